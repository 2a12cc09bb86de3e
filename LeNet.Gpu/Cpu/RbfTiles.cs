using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The paper's RBF output layer and its MAP loss on one tile (<see cref="OutputLayer.Rbf"/>):
/// <code>
/// Forward:   z[i] = −y_i = −Σ_j (x_j − c_ij)² = 2·(c_i·x) − |x|² − 84     x = F6 [84][L], c the ±1 centres (c² = 1)
///            the dense OUTPUT kernel computes c_i·x (bias 0); this turns it into z in place. The softmax of z is
///            softmax(−y), the probabilities; its largest entry is the smallest y_i, the paper's class.
/// Loss:      E = y_D + log(e^−j + Σ_i e^−y_i)   (MAP; j keeps the already large y_i from being pushed further up)
/// Backward:  q_i = e^−y_i / (e^−j + Σ e^−y)    dE/dz_i = q_i − [i = D]    dE/dx_k = 2·Σ_i (q_i − [i = D])·(c_ik − x_k)
/// Second:    d²E/dx_k² ≈ 2 + 4·Σ_i q_i(1 − q_i)·(x_k − c_ik)²: y_D is a sum of squared residuals (its curvature is
///            exactly 2), the log term by Gauss–Newton with its diagonal only, as the rest of the network.
/// </code>
/// Gradients are scaled by 1/count (batch means), as the softmax's are; the layer has no trainable parameters.
/// </summary>
internal static unsafe class RbfTiles
{
    /// <summary>dot [10][L] holds c_i·x; x [84][L]. Writes z = 2·dot − |x|² − 84 over dot.</summary>
    public static void Distances<TS, TV>(float* x, float* dot) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        TV squares = TS.Zero;
        for (int k = 0; k < F6Units; k++)
        {
            TV v = TS.Load(x + k * L);
            squares = TS.Fma(v, v, squares);
        }
        TV offset = TS.Add(squares, TS.Broadcast(F6Units));
        TV two = TS.Broadcast(2f);
        for (int i = 0; i < Classes; i++)
            TS.Store(dot + i * L, TS.Subtract(TS.Multiply(two, TS.Load(dot + i * L)), offset));
    }

    /// <summary>z = 2·dot − |x|² − 84 for one image (x [84], dot [10] contiguous).</summary>
    public static void Distances(float* x, float* dot)
    {
        float squares = 0f;
        for (int k = 0; k < F6Units; k++) squares += x[k] * x[k];
        for (int i = 0; i < Classes; i++) dot[i] = 2f * dot[i] - (squares + F6Units);
    }

    /// <summary>
    /// The MAP loss of one image from z = −y: y_D + log(e^−j + Σ e^−y), computed with the largest exponent taken out.
    /// <paramref name="q"/> (10 floats) receives q_i.
    /// </summary>
    public static double Loss(ReadOnlySpan<float> z, int label, float j, Span<float> q)
    {
        float m = -j;
        for (int i = 0; i < Classes; i++) m = MathF.Max(m, z[i]);
        float sum = MathF.Exp(-j - m);
        for (int i = 0; i < Classes; i++)
        {
            q[i] = MathF.Exp(z[i] - m);
            sum += q[i];
        }
        for (int i = 0; i < Classes; i++) q[i] /= sum;
        return -z[label] + m + MathF.Log(sum);
    }

    /// <summary>
    /// dF6 [84][L] for the tile (lanes at or past <paramref name="valid"/> zero), from z [10][L], x = F6 [84][L] and the
    /// centres [10][84]; writes each valid image's loss to <paramref name="losses"/> and adds the tile's hits.
    /// </summary>
    public static void Backward(int lanes, int valid, int count, bool secondOrder, float j, float* z, float* x, float* centres,
        int* predictions, int* labels, float* dF6, double* losses, ref int correct)
    {
        float scale = 1f / count;
        Span<float> zn = stackalloc float[Classes], q = stackalloc float[Classes], d = stackalloc float[Classes];
        for (int n = 0; n < lanes; n++)
        {
            if (n >= valid)
            {
                for (int k = 0; k < F6Units; k++) dF6[k * lanes + n] = 0f;
                continue;
            }
            int label = labels[n];
            for (int i = 0; i < Classes; i++) zn[i] = z[i * lanes + n];
            losses[n] = Loss(zn, label, j, q);
            if (predictions[n] == label) correct++;
            if (secondOrder)
            {
                for (int i = 0; i < Classes; i++) d[i] = 4f * q[i] * (1f - q[i]);
                for (int k = 0; k < F6Units; k++)
                {
                    float xk = x[k * lanes + n], h = 2f;
                    for (int i = 0; i < Classes; i++)
                    {
                        float r = xk - centres[i * F6Units + k];
                        h += d[i] * r * r;
                    }
                    dF6[k * lanes + n] = h * scale;
                }
            }
            else
            {
                for (int i = 0; i < Classes; i++) d[i] = 2f * (q[i] - (i == label ? 1f : 0f));
                for (int k = 0; k < F6Units; k++)
                {
                    float xk = x[k * lanes + n], g = 0f;
                    for (int i = 0; i < Classes; i++) g += d[i] * (centres[i * F6Units + k] - xk);
                    dF6[k * lanes + n] = g * scale;
                }
            }
        }
    }
}
