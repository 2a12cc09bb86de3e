using System.Runtime.CompilerServices;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// Dense layers on tiles: C5 (S4's 400 values → 120, squashed; a 5×5 convolution over a 5×5 map is a dense
/// layer), F6 (120 → 84, squashed) and OUTPUT (84 → 10 logits), and the pieces of their backward pass.
/// <code>
/// Forward:         out[o] = f( bias[o] + Σ_j W[o,j]·in[j] )     in [In][L]  out [Out][L]  W [Out][In] row-major
/// InputGradient:   dIn[j] = Σ_o W[o,j]·dA[o]: the same kernel reading W by columns (W² in second-order mode)
/// WeightGradient:  G[o,j] += Σ_n dA[o,n]·Xᵀ[n,j]                dA [Rows][L]  Xᵀ [L][J] (image-major)  G [Rows][J]
/// </code>
/// The weight gradient runs image-major so that its reduction over the batch is the inner loop of broadcast ×
/// vector multiply-adds along j, written straight into a float row of G: no horizontal sums. Rows are padded to a
/// multiple of 4 with zero gradients, J to a multiple of 16 floats with zero activations.
/// </summary>
internal static unsafe class FullyConnectedTiles
{
    /// <summary>
    /// Twelve output units at a time share each input load: twelve independent sums keep both FMA pipes busy through
    /// the multiply-add latency (eight left them idle a fifth of the time). Their weights are read through three
    /// pointers and the unit stride, so that the loop fits x64's registers; the sums are squashed after they are
    /// stored. Units past the last group of twelve go four at a time, the last four clamping their indices to the
    /// last unit (the duplicates compute the same value and store it to the same place). bias may be null.
    /// </summary>
    public static void Forward<TS, TV>(float* input, int inUnits, float* weights, float* bias, int outUnits,
        bool squash, Squashing squashing, float* output) where TS : struct, ISimd<TV> where TV : struct =>
        Forward<TS, TV>(input, inUnits, weights, inUnits, 1, bias, outUnits, squash, squashing, output);

    /// <summary>
    /// The input gradient dIn[j] = Σ_o W[o,j]·dA[o] of a layer with weights W [outUnits][inUnits]: the forward
    /// kernel reading W transposed in place (unit j's weights are column j), so no transposed copy is needed.
    /// </summary>
    public static void InputGradient<TS, TV>(float* dA, int outUnits, float* weights, int inUnits, float* dIn)
        where TS : struct, ISimd<TV> where TV : struct =>
        Forward<TS, TV>(dA, outUnits, weights, 1, inUnits, null, inUnits, false, Squashing.ScaledTanh, dIn);

    /// <summary>out[o] = f(bias[o] + Σ_j weights[o·unitStride + j·inputStride]·in[j]).</summary>
    private static void Forward<TS, TV>(float* input, int inUnits, float* weights, int unitStride, int inputStride,
        float* bias, int outUnits, bool squash, Squashing squashing, float* output) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, o = 0;
        long s1 = unitStride;
        for (; o + 12 <= outUnits; o += 12)
        {
            float* d = output + (long)o * L;
            TwelveUnits<TS, TV>(input, inUnits, weights + (long)o * unitStride, unitStride, inputStride, bias == null ? null : bias + o, d);
            if (squash) VectorMath.SquashInPlace<TS, TV>(d, 12, squashing);
        }
        for (int last = outUnits - 1; o < outUnits; o += 4)
        {
            int r0 = o, r1 = Math.Min(o + 1, last), r2 = Math.Min(o + 2, last), r3 = Math.Min(o + 3, last);
            float* w0 = weights + r0 * s1, w1 = weights + r1 * s1, w2 = weights + r2 * s1, w3 = weights + r3 * s1;
            TV a0, a1, a2, a3;
            if (bias == null)
                a0 = a1 = a2 = a3 = TS.Zero;
            else
            {
                a0 = TS.Broadcast(bias[r0]); a1 = TS.Broadcast(bias[r1]); a2 = TS.Broadcast(bias[r2]); a3 = TS.Broadcast(bias[r3]);
            }
            for (int j = 0; j < inUnits; j++)
            {
                TV v = TS.Load(input + j * L);
                long k = (long)j * inputStride;
                a0 = TS.Fma(TS.Broadcast(w0[k]), v, a0);
                a1 = TS.Fma(TS.Broadcast(w1[k]), v, a1);
                a2 = TS.Fma(TS.Broadcast(w2[k]), v, a2);
                a3 = TS.Fma(TS.Broadcast(w3[k]), v, a3);
            }
            if (squash)
            {
                a0 = VectorMath.Squash<TS, TV>(a0, squashing); a1 = VectorMath.Squash<TS, TV>(a1, squashing);
                a2 = VectorMath.Squash<TS, TV>(a2, squashing); a3 = VectorMath.Squash<TS, TV>(a3, squashing);
            }
            TS.Store(output + r3 * L, a3); TS.Store(output + r2 * L, a2); TS.Store(output + r1 * L, a1); TS.Store(output + r0 * L, a0);
        }
    }

    /// <summary>
    /// Twelve units' sums d[u] = bias[u] + Σ_j q[u·unitStride + j·inputStride]·in[j], stored unsquashed. A method of
    /// its own so that only the loop's pointers and strides are live in it: inside the layer's loop over units the
    /// JIT's profile-guided code kept the weight pointers on the stack in some processes (C5 at 0.38 of the ceiling
    /// instead of 0.70, 2026-12-07).
    /// </summary>
    // Compiled once, without the call profile: the same code in every process (kernels.md).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TwelveUnits<TS, TV>(float* input, int inUnits, float* q0, long unitStride, int inputStride, float* bias, float* d)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        long s1 = unitStride, s2 = 2L * unitStride, s3 = 3L * unitStride;
        float* q1 = q0 + 4 * s1, q2 = q0 + 8 * s1;
        TV a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11;
        if (bias == null)
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = a10 = a11 = TS.Zero;
        else
        {
            a0 = TS.Broadcast(bias[0]); a1 = TS.Broadcast(bias[1]); a2 = TS.Broadcast(bias[2]); a3 = TS.Broadcast(bias[3]);
            a4 = TS.Broadcast(bias[4]); a5 = TS.Broadcast(bias[5]); a6 = TS.Broadcast(bias[6]); a7 = TS.Broadcast(bias[7]);
            a8 = TS.Broadcast(bias[8]); a9 = TS.Broadcast(bias[9]); a10 = TS.Broadcast(bias[10]); a11 = TS.Broadcast(bias[11]);
        }
        float* x = input;
        for (int j = 0; j < inUnits; j++, x += L, q0 += inputStride, q1 += inputStride, q2 += inputStride)
        {
            TV v = TS.Load(x);
            a0 = TS.Fma(TS.Broadcast(q0[0]), v, a0); a1 = TS.Fma(TS.Broadcast(q0[s1]), v, a1);
            a2 = TS.Fma(TS.Broadcast(q0[s2]), v, a2); a3 = TS.Fma(TS.Broadcast(q0[s3]), v, a3);
            a4 = TS.Fma(TS.Broadcast(q1[0]), v, a4); a5 = TS.Fma(TS.Broadcast(q1[s1]), v, a5);
            a6 = TS.Fma(TS.Broadcast(q1[s2]), v, a6); a7 = TS.Fma(TS.Broadcast(q1[s3]), v, a7);
            a8 = TS.Fma(TS.Broadcast(q2[0]), v, a8); a9 = TS.Fma(TS.Broadcast(q2[s1]), v, a9);
            a10 = TS.Fma(TS.Broadcast(q2[s2]), v, a10); a11 = TS.Fma(TS.Broadcast(q2[s3]), v, a11);
        }
        TS.Store(d, a0); TS.Store(d + L, a1); TS.Store(d + 2 * L, a2); TS.Store(d + 3 * L, a3);
        TS.Store(d + 4 * L, a4); TS.Store(d + 5 * L, a5); TS.Store(d + 6 * L, a6); TS.Store(d + 7 * L, a7);
        TS.Store(d + 8 * L, a8); TS.Store(d + 9 * L, a9); TS.Store(d + 10 * L, a10); TS.Store(d + 11 * L, a11);
    }

    /// <summary>
    /// <see cref="Forward{TS, TV}(float*, int, float*, float*, int, bool, Squashing, float*)"/> for two tiles at once
    /// (in0 → out0, in1 → out1), each output the same chain of terms. Six units a step, each weight broadcast once for
    /// both tiles: a multiply-add then costs one and a half instructions, not two (a broadcast and an FMA; AVX2 cannot
    /// broadcast inside the FMA), and C5's 192 KB of weights are read once for sixteen images, not eight. Twelve sums,
    /// the two inputs and the weight fill 15 of the 16 vector registers. Units past the last group of six go through
    /// the one-tile kernel, tile by tile.
    /// </summary>
    public static void ForwardPair<TS, TV>(float* in0, float* in1, int inUnits, float* weights, float* bias, int outUnits,
        bool squash, Squashing squashing, float* out0, float* out1) where TS : struct, ISimd<TV> where TV : struct =>
        ForwardPair<TS, TV>(in0, in1, inUnits, weights, inUnits, 1, bias, outUnits, squash, squashing, out0, out1);

    /// <summary><see cref="InputGradient{TS, TV}"/> for two tiles at once (dA0 → dIn0, dA1 → dIn1), as <see cref="ForwardPair{TS, TV}(float*, float*, int, float*, float*, int, bool, Squashing, float*, float*)"/>.</summary>
    public static void InputGradientPair<TS, TV>(float* dA0, float* dA1, int outUnits, float* weights, int inUnits, float* dIn0, float* dIn1)
        where TS : struct, ISimd<TV> where TV : struct =>
        ForwardPair<TS, TV>(dA0, dA1, outUnits, weights, 1, inUnits, null, inUnits, false, Squashing.ScaledTanh, dIn0, dIn1);

    /// <summary>out[o] = f(bias[o] + Σ_j weights[o·unitStride + j·inputStride]·in[j]) for two tiles; bias may be null.</summary>
    // Compiled once, without the call profile: the same code in every process (kernels.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardPair<TS, TV>(float* in0, float* in1, int inUnits, float* weights, int unitStride, int inputStride,
        float* bias, int outUnits, bool squash, Squashing squashing, float* out0, float* out1) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, o = 0;
        long s1 = unitStride, s2 = 2L * unitStride;
        for (; o + 6 <= outUnits; o += 6)
        {
            float* q0 = weights + (long)o * unitStride, q1 = q0 + 3 * s1;
            TV a0, a1, a2, a3, a4, a5;
            if (bias == null)
                a0 = a1 = a2 = a3 = a4 = a5 = TS.Zero;
            else
            {
                a0 = TS.Broadcast(bias[o]); a1 = TS.Broadcast(bias[o + 1]); a2 = TS.Broadcast(bias[o + 2]);
                a3 = TS.Broadcast(bias[o + 3]); a4 = TS.Broadcast(bias[o + 4]); a5 = TS.Broadcast(bias[o + 5]);
            }
            TV b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5;
            float* x = in0, y = in1;
            for (int j = 0; j < inUnits; j++, x += L, y += L, q0 += inputStride, q1 += inputStride)
            {
                TV v = TS.Load(x), u = TS.Load(y), w;
                w = TS.Broadcast(q0[0]); a0 = TS.Fma(w, v, a0); b0 = TS.Fma(w, u, b0);
                w = TS.Broadcast(q0[s1]); a1 = TS.Fma(w, v, a1); b1 = TS.Fma(w, u, b1);
                w = TS.Broadcast(q0[s2]); a2 = TS.Fma(w, v, a2); b2 = TS.Fma(w, u, b2);
                w = TS.Broadcast(q1[0]); a3 = TS.Fma(w, v, a3); b3 = TS.Fma(w, u, b3);
                w = TS.Broadcast(q1[s1]); a4 = TS.Fma(w, v, a4); b4 = TS.Fma(w, u, b4);
                w = TS.Broadcast(q1[s2]); a5 = TS.Fma(w, v, a5); b5 = TS.Fma(w, u, b5);
            }
            float* d = out0 + (long)o * L, e = out1 + (long)o * L;
            TS.Store(d, a0); TS.Store(d + L, a1); TS.Store(d + 2 * L, a2); TS.Store(d + 3 * L, a3); TS.Store(d + 4 * L, a4); TS.Store(d + 5 * L, a5);
            TS.Store(e, b0); TS.Store(e + L, b1); TS.Store(e + 2 * L, b2); TS.Store(e + 3 * L, b3); TS.Store(e + 4 * L, b4); TS.Store(e + 5 * L, b5);
        }
        if (squash)
        {
            VectorMath.SquashInPlace<TS, TV>(out0, o, squashing);
            VectorMath.SquashInPlace<TS, TV>(out1, o, squashing);
        }
        if (o == outUnits) return;
        float* rest = bias == null ? null : bias + o;
        Forward<TS, TV>(in0, inUnits, weights + (long)o * unitStride, unitStride, inputStride, rest, outUnits - o, squash, squashing, out0 + (long)o * L);
        Forward<TS, TV>(in1, inUnits, weights + (long)o * unitStride, unitStride, inputStride, rest, outUnits - o, squash, squashing, out1 + (long)o * L);
    }

    /// <summary>
    /// G[o,j] += Σ_t Σ_n dA_t[o·L + n]·xT[(t·L + n)·J + j] over <paramref name="tiles"/> tiles t (dA_t = dA + t·dAStride,
    /// their images one after another in xT) for o &lt; rows (a multiple of 4) and j &lt; J (a multiple of L); with
    /// <paramref name="accumulate"/> false, G = Σ (no zeroing needed beforehand). Each G[o,j] adds its terms in image
    /// order, tile after tile, whatever the blocking. Blocks of 4 rows × 3 vectors (12 sums, 3 inputs and a broadcast
    /// fill AVX2's 16 registers; 4 × 4 spilled sums to the stack on every image), the rest of a row in blocks of 4 × 2
    /// (eight chains cover the multiply-add latency on both pipes; 4 × 1 leaves them half idle) and only an odd last
    /// vector in 4 × 1; several tiles in one pass so that each G block is loaded and stored once for all their images.
    /// </summary>
    public static void WeightGradient<TS, TV>(float* dA, long dAStride, int tiles, int rows, float* xT, int J, float* gradient, bool accumulate)
        where TS : struct, ISimd<TV> where TV : struct
    {
        if (accumulate) WeightGradient<TS, TV, Accumulating>(dA, dAStride, tiles, rows, xT, J, gradient);
        else WeightGradient<TS, TV, Assigning>(dA, dAStride, tiles, rows, xT, J, gradient);
    }

    private static void WeightGradient<TS, TV, TA>(float* dA, long dAStride, int tiles, int rows, float* xT, int J, float* gradient)
        where TS : struct, ISimd<TV> where TV : struct where TA : struct, IStart
    {
        int L = TS.Lanes, vectors = J / L;
        // Threes, then twos: a row of 3k + 1 vectors goes as k − 1 threes and two twos rather than k threes and a one.
        int threes = vectors % 3 == 1 && vectors >= 4 ? vectors / 3 - 1 : vectors / 3;
        int twos = (vectors - 3 * threes) / 2;
        for (int o = 0; o < rows; o += 4)
        {
            float* g = gradient + (long)o * J, d = dA + o * L;
            int j = 0;
            for (int b = 0; b < threes; b++, j += 3 * L) Block3<TS, TV, TA>(d, dAStride, tiles, xT + j, J, g + j);
            for (int b = 0; b < twos; b++, j += 2 * L) Block2<TS, TV, TA>(d, dAStride, tiles, xT + j, J, g + j);
            if (j < J) Block1<TS, TV, TA>(d, dAStride, tiles, xT + j, J, g + j);
        }
    }

    // The blocks: rows o..o+3 of G (g, g + J, …) at the columns from x's; dA's rows at d, d + L, … of each tile. Each
    // steps its input pointer image by image (an image's columns are J floats on) rather than recomputing it.
    // Compiled once, without the call profile: the same code in every process (kernels.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block3<TS, TV, TA>(float* d, long dAStride, int tiles, float* x, int J, float* g)
        where TS : struct, ISimd<TV> where TV : struct where TA : struct, IStart
    {
        int L = TS.Lanes;
        float* g1 = g + J, g2 = g1 + J, g3 = g2 + J;
        TV s00 = TA.Start<TS, TV>(g), s01 = TA.Start<TS, TV>(g + L), s02 = TA.Start<TS, TV>(g + 2 * L);
        TV s10 = TA.Start<TS, TV>(g1), s11 = TA.Start<TS, TV>(g1 + L), s12 = TA.Start<TS, TV>(g1 + 2 * L);
        TV s20 = TA.Start<TS, TV>(g2), s21 = TA.Start<TS, TV>(g2 + L), s22 = TA.Start<TS, TV>(g2 + 2 * L);
        TV s30 = TA.Start<TS, TV>(g3), s31 = TA.Start<TS, TV>(g3 + L), s32 = TA.Start<TS, TV>(g3 + 2 * L);
        for (int t = 0; t < tiles; t++, d += dAStride)
        {
            float* d1 = d + L, d2 = d1 + L, d3 = d2 + L;
            for (int n = 0; n < L; n++, x += J)
            {
                TV x0 = TS.Load(x), x1 = TS.Load(x + L), x2 = TS.Load(x + 2 * L);
                TV b = TS.Broadcast(d[n]);
                s00 = TS.Fma(b, x0, s00); s01 = TS.Fma(b, x1, s01); s02 = TS.Fma(b, x2, s02);
                b = TS.Broadcast(d1[n]);
                s10 = TS.Fma(b, x0, s10); s11 = TS.Fma(b, x1, s11); s12 = TS.Fma(b, x2, s12);
                b = TS.Broadcast(d2[n]);
                s20 = TS.Fma(b, x0, s20); s21 = TS.Fma(b, x1, s21); s22 = TS.Fma(b, x2, s22);
                b = TS.Broadcast(d3[n]);
                s30 = TS.Fma(b, x0, s30); s31 = TS.Fma(b, x1, s31); s32 = TS.Fma(b, x2, s32);
            }
        }
        TS.Store(g, s00); TS.Store(g + L, s01); TS.Store(g + 2 * L, s02);
        TS.Store(g1, s10); TS.Store(g1 + L, s11); TS.Store(g1 + 2 * L, s12);
        TS.Store(g2, s20); TS.Store(g2 + L, s21); TS.Store(g2 + 2 * L, s22);
        TS.Store(g3, s30); TS.Store(g3 + L, s31); TS.Store(g3 + 2 * L, s32);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block2<TS, TV, TA>(float* d, long dAStride, int tiles, float* x, int J, float* g)
        where TS : struct, ISimd<TV> where TV : struct where TA : struct, IStart
    {
        int L = TS.Lanes;
        float* g1 = g + J, g2 = g1 + J, g3 = g2 + J;
        TV s00 = TA.Start<TS, TV>(g), s01 = TA.Start<TS, TV>(g + L);
        TV s10 = TA.Start<TS, TV>(g1), s11 = TA.Start<TS, TV>(g1 + L);
        TV s20 = TA.Start<TS, TV>(g2), s21 = TA.Start<TS, TV>(g2 + L);
        TV s30 = TA.Start<TS, TV>(g3), s31 = TA.Start<TS, TV>(g3 + L);
        for (int t = 0; t < tiles; t++, d += dAStride)
        {
            float* d1 = d + L, d2 = d1 + L, d3 = d2 + L;
            for (int n = 0; n < L; n++, x += J)
            {
                TV x0 = TS.Load(x), x1 = TS.Load(x + L);
                TV b = TS.Broadcast(d[n]);
                s00 = TS.Fma(b, x0, s00); s01 = TS.Fma(b, x1, s01);
                b = TS.Broadcast(d1[n]);
                s10 = TS.Fma(b, x0, s10); s11 = TS.Fma(b, x1, s11);
                b = TS.Broadcast(d2[n]);
                s20 = TS.Fma(b, x0, s20); s21 = TS.Fma(b, x1, s21);
                b = TS.Broadcast(d3[n]);
                s30 = TS.Fma(b, x0, s30); s31 = TS.Fma(b, x1, s31);
            }
        }
        TS.Store(g, s00); TS.Store(g + L, s01);
        TS.Store(g1, s10); TS.Store(g1 + L, s11);
        TS.Store(g2, s20); TS.Store(g2 + L, s21);
        TS.Store(g3, s30); TS.Store(g3 + L, s31);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block1<TS, TV, TA>(float* d, long dAStride, int tiles, float* x, int J, float* g)
        where TS : struct, ISimd<TV> where TV : struct where TA : struct, IStart
    {
        int L = TS.Lanes;
        float* g1 = g + J, g2 = g1 + J, g3 = g2 + J;
        TV s0 = TA.Start<TS, TV>(g), s1 = TA.Start<TS, TV>(g1), s2 = TA.Start<TS, TV>(g2), s3 = TA.Start<TS, TV>(g3);
        for (int t = 0; t < tiles; t++, d += dAStride)
        {
            float* d1 = d + L, d2 = d1 + L, d3 = d2 + L;
            for (int n = 0; n < L; n++, x += J)
            {
                TV v = TS.Load(x);
                s0 = TS.Fma(TS.Broadcast(d[n]), v, s0);
                s1 = TS.Fma(TS.Broadcast(d1[n]), v, s1);
                s2 = TS.Fma(TS.Broadcast(d2[n]), v, s2);
                s3 = TS.Fma(TS.Broadcast(d3[n]), v, s3);
            }
        }
        TS.Store(g, s0); TS.Store(g1, s1); TS.Store(g2, s2); TS.Store(g3, s3);
    }

    /// <summary>xT[n·J + e] = x[e·L + n] (squared when asked) for e &lt; elements: a tile turned image-major.</summary>
    public static void Transpose<TS, TV>(float* x, int elements, bool square, float* xT, int J)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        for (int e = 0; e < elements; e++)
        {
            float* v = x + e * L;
            if (square)
                for (int n = 0; n < L; n++) xT[n * J + e] = v[n] * v[n];
            else
                for (int n = 0; n < L; n++) xT[n * J + e] = v[n];
        }
    }

    /// <summary>acc[k] += v[k] for k &lt; count vectors (bias gradients of dense layers).</summary>
    public static void Accumulate<TS, TV>(float* v, int count, float* acc) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        for (int k = 0; k < count; k++)
            TS.Store(acc + k * L, TS.Add(TS.Load(acc + k * L), TS.Load(v + k * L)));
    }

    /// <summary>dA ← dA·f'(y), or dA·f'(y)² in second-order mode, over count vectors: dE/dy becomes dE/da.</summary>
    public static void SquashBackward<TS, TV>(float* gradient, float* output, int count, Squashing squashing, bool secondOrder)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        for (int k = 0; k < count; k++)
        {
            TV d = VectorMath.Derivative<TS, TV>(TS.Load(output + k * L), squashing);
            if (secondOrder) d = TS.Multiply(d, d);
            TS.Store(gradient + k * L, TS.Multiply(TS.Load(gradient + k * L), d));
        }
    }
}

/// <summary>How a gradient kernel starts its sums: from what the buffer holds, or from zero.</summary>
internal unsafe interface IStart
{
    static abstract TV Start<TS, TV>(float* p) where TS : struct, ISimd<TV> where TV : struct;
}

internal unsafe struct Accumulating : IStart
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static TV Start<TS, TV>(float* p) where TS : struct, ISimd<TV> where TV : struct => TS.Load(p);
}

internal unsafe struct Assigning : IStart
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static TV Start<TS, TV>(float* p) where TS : struct, ISimd<TV> where TV : struct => TS.Zero;
}
