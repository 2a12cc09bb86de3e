using System.Runtime.CompilerServices;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The subsampling layers S2 (6@28x28 → 6@14x14) and S4 (16@10x10 → 16@5x5) on tiles:
/// <code>
/// Forward:   y[m,Y,X] = f( c[m]·(in[m,2Y,2X] + in[m,2Y,2X+1] + in[m,2Y+1,2X] + in[m,2Y+1,2X+1]) + b[m] )
/// Backward:  given dA = dE/d(weighted sum) [maps][s][s]:
///            cAcc[m] += Σ dA·(2×2 sum)  (its square in second-order mode)     bAcc[m] += Σ dA
///            dIn[m, y, x] = c[m]·dA[m, y/2, x/2]   (c² in second-order mode: the caller passes squared c)
/// in [maps][2s][2s]   out, dA [maps][s][s]   c, b [maps]   cAcc, bAcc [maps] lane vectors
/// </code>
/// </summary>
internal static unsafe class SubsamplingTiles
{
    // Compiled once, without the call profile: the same code in every process (kernels.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<TS, TV>(float* input, int maps, int size, float* coefficient, float* bias, Squashing squashing,
        float* output) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        for (int m = 0; m < maps; m++)
        {
            Sums<TS, TV>(input, m, size, coefficient[m], bias[m], output);
            VectorMath.SquashInPlace<TS, TV>(output + m * size * size * L, size * size, squashing); // the map while in L1
        }
    }

    /// <summary>Map m's weighted sums c·(2×2 sum) + b, before the squashing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sums<TS, TV>(float* input, int m, int size, float coefficient, float bias, float* output)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, inSize = 2 * size;
        TV c = TS.Broadcast(coefficient), b = TS.Broadcast(bias);
        for (int y = 0; y < size; y++)
        {
            float* top = input + (m * inSize + 2 * y) * inSize * L;
            float* bottom = top + inSize * L;
            float* d = output + (m * size + y) * size * L;
            for (int x = 0; x < size; x++)
            {
                int at = 2 * x * L;
                TV sum = TS.Add(TS.Add(TS.Load(top + at), TS.Load(top + at + L)),
                    TS.Add(TS.Load(bottom + at), TS.Load(bottom + at + L)));
                TS.Store(d + x * L, TS.Fma(c, sum, b));
            }
        }
    }

    /// <param name="coefficient">c, or c² in second-order mode (what multiplies the input gradient).</param>
    /// <param name="dInRow">Elements per row of dIn's maps.</param>
    /// <param name="dInMap">Elements per map of dIn.</param>
    public static void Backward<TS, TV>(float* dA, float* input, int maps, int size, float* coefficient, bool secondOrder,
        float* coefficientAcc, float* biasAcc, float* dIn, int dInRow, int dInMap)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, inSize = 2 * size;
        for (int m = 0; m < maps; m++)
        {
            TV c = TS.Broadcast(coefficient[m]);
            TV cAcc = TS.Load(coefficientAcc + m * L), bAcc = TS.Load(biasAcc + m * L);
            for (int y = 0; y < size; y++)
            {
                float* top = input + (m * inSize + 2 * y) * inSize * L;
                float* bottom = top + inSize * L;
                float* gTop = dIn + (m * dInMap + 2 * y * dInRow) * L;
                float* gBottom = gTop + dInRow * L;
                float* g = dA + (m * size + y) * size * L;
                for (int x = 0; x < size; x++)
                {
                    int at = 2 * x * L;
                    TV d = TS.Load(g + x * L);
                    TV sum = TS.Add(TS.Add(TS.Load(top + at), TS.Load(top + at + L)),
                        TS.Add(TS.Load(bottom + at), TS.Load(bottom + at + L)));
                    if (secondOrder) sum = TS.Multiply(sum, sum);
                    cAcc = TS.Fma(d, sum, cAcc);
                    bAcc = TS.Add(bAcc, d);
                    TV up = TS.Multiply(c, d);
                    TS.Store(gTop + at, up); TS.Store(gTop + at + L, up);
                    TS.Store(gBottom + at, up); TS.Store(gBottom + at + L, up);
                }
            }
            TS.Store(coefficientAcc + m * L, cAcc);
            TS.Store(biasAcc + m * L, bAcc);
        }
    }
}
