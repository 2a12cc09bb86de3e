using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Kernels;

/// <summary>The fused C5F6Output kernel: C5, F6, OUTPUT and the softmax for a tile of S4 maps (see <see cref="FusedKernels"/>).</summary>
public static partial class FusedKernels
{
    /// <summary>
    /// C5 (squashed), F6 (squashed), OUTPUT (identity) and the softmax for a tile of S4 [n][400] →
    /// probabilities [n][10] and predictions [n] (argmax, the first of equal maxima). The three dense layers are
    /// small matrix products of the tile: weights pass through shared memory in chunks of 32 inputs (transposed,
    /// so a thread's 4 units are adjacent), and each thread accumulates a 4 units × 4 images block in registers.
    /// Activations stay in shared memory between the layers. Grid: ⌈count / <see cref="DenseTile"/>⌉ groups.
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = DenseGroup)]
    public static void C5F6Output(int count, int activation, ArrayView<float> s4,
        ArrayView<float> c5Weight, ArrayView<float> c5Bias, ArrayView<float> f6Weight, ArrayView<float> f6Bias,
        ArrayView<float> outputWeight, ArrayView<float> outputBias,
        ArrayView<float> probabilities, ArrayView<int> predictions)
    {
        var x = SharedMemory.Allocate<float>(DenseTile * S4Stride);   // S4 rows, then F6 rows
        var y = SharedMemory.Allocate<float>(DenseTile * C5Stride);   // C5 rows, then logits
        var w = SharedMemory.Allocate<float>(Chunk * ChunkStride);    // one chunk of weights, [input][unit]
        int first = Grid.IdxX * DenseTile, valid = Valid(count, first, DenseTile);
        for (int e = Group.IdxX; e < DenseTile * S4Length; e += Group.DimX)
        {
            int n = e / S4Length, k = e - n * S4Length;
            // Rows past the batch hold zeros: they are computed (a 4-image block may straddle the end) but never written.
            float v = 0f;
            if (n < valid) v = s4[first * S4Length + e];
            x[n * S4Stride + k] = v;
        }
        // Dense's first barrier (after staging its first weight chunk) also publishes these rows.
        Dense(S4Length, C5Units, activation, x, S4Stride, c5Weight, c5Bias, w, y, C5Stride);
        Dense(C5Units, F6Units, activation, y, C5Stride, f6Weight, f6Bias, w, x, F6Stride);
        Dense(F6Units, Classes, 0, x, F6Stride, outputWeight, outputBias, w, y, LogitStride);
        Group.Barrier();

        for (int n = Group.IdxX; n < valid; n += Group.DimX)
        {
            int row = n * LogitStride;
            float max = y[row];
            int best = 0;
            for (int c = 1; c < Classes; c++)
            {
                float v = y[row + c];
                if (v > max) { max = v; best = c; }
            }
            float total = 0f;
            for (int c = 0; c < Classes; c++)
            {
                float e = XMath.Exp(y[row + c] - max);
                y[row + c] = e;
                total += e;
            }
            float inverse = 1f / total;
            for (int c = 0; c < Classes; c++)
                probabilities[(first + n) * Classes + c] = y[row + c] * inverse;
            predictions[first + n] = best;
        }
    }

    /// <summary>
    /// out[n, u] = f(bias[u] + Σ_k weight[u, k] · in[n, k]) for the tile's <see cref="DenseTile"/> rows, in and out
    /// in shared memory. Item = (unit quad, image quad); a group of G threads takes the items in passes of G. Every
    /// thread runs every pass and chunk (the loop bounds are the same for the whole group), so the barriers match.
    /// </summary>
    private static void Dense(int inputs, int units, int activation, ArrayView<float> input, int inputStride,
        ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> w, ArrayView<float> output, int outputStride)
    {
        int quads = (units + 3) / 4, items = quads * ImageQuads;
        for (int pass = 0; pass < items; pass += Group.DimX)
        {
            int item = pass + Group.IdxX;
            bool active = item < items;
            int u = item / ImageQuads * 4, n = item % ImageQuads * 4;
            float b0 = Bias(bias, u, units), b1 = Bias(bias, u + 1, units), b2 = Bias(bias, u + 2, units), b3 = Bias(bias, u + 3, units);
            float a00 = b0, a01 = b0, a02 = b0, a03 = b0, a10 = b1, a11 = b1, a12 = b1, a13 = b1;
            float a20 = b2, a21 = b2, a22 = b2, a23 = b2, a30 = b3, a31 = b3, a32 = b3, a33 = b3;
            for (int k0 = 0; k0 < inputs; k0 += Chunk)
            {
                int chunk = inputs - k0 < Chunk ? inputs - k0 : Chunk;
                // Consecutive threads read consecutive inputs of one unit's weight row (coalesced); units past the
                // layer's last get zeros so a partial quad computes harmlessly.
                for (int e = Group.IdxX; e < quads * 4 * chunk; e += Group.DimX)
                {
                    int unit = e / chunk, kk = e - unit * chunk;
                    float v = 0f;
                    if (unit < units) v = weight[unit * inputs + k0 + kk];
                    w[kk * ChunkStride + unit] = v;
                }
                Group.Barrier();
                if (active)
                {
                    for (int kk = 0; kk < chunk; kk++)
                    {
                        int k = k0 + kk, wa = kk * ChunkStride + u;
                        float x0 = input[n * inputStride + k], x1 = input[(n + 1) * inputStride + k];
                        float x2 = input[(n + 2) * inputStride + k], x3 = input[(n + 3) * inputStride + k];
                        float w0 = w[wa], w1 = w[wa + 1], w2 = w[wa + 2], w3 = w[wa + 3];
                        a00 += w0 * x0; a01 += w0 * x1; a02 += w0 * x2; a03 += w0 * x3;
                        a10 += w1 * x0; a11 += w1 * x1; a12 += w1 * x2; a13 += w1 * x3;
                        a20 += w2 * x0; a21 += w2 * x1; a22 += w2 * x2; a23 += w2 * x3;
                        a30 += w3 * x0; a31 += w3 * x1; a32 += w3 * x2; a33 += w3 * x3;
                    }
                }
                Group.Barrier();
            }
            if (active)
            {
                Store(output, outputStride, n, u, units, activation, a00, a01, a02, a03);
                Store(output, outputStride, n, u + 1, units, activation, a10, a11, a12, a13);
                Store(output, outputStride, n, u + 2, units, activation, a20, a21, a22, a23);
                Store(output, outputStride, n, u + 3, units, activation, a30, a31, a32, a33);
            }
        }
    }

    private static float Bias(ArrayView<float> bias, int unit, int units)
    {
        float b = 0f;
        if (unit < units) b = bias[unit];
        return b;
    }

    private static void Store(ArrayView<float> output, int stride, int n, int unit, int units, int activation,
        float a0, float a1, float a2, float a3)
    {
        if (unit >= units) return;
        output[n * stride + unit] = Squash.Apply(a0, activation);
        output[(n + 1) * stride + unit] = Squash.Apply(a1, activation);
        output[(n + 2) * stride + unit] = Squash.Apply(a2, activation);
        output[(n + 3) * stride + unit] = Squash.Apply(a3, activation);
    }
}
