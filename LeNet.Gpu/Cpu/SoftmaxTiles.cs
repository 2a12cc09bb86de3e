using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The 10-way softmax and its cross-entropy loss on one tile, with the device's formulas
/// (<see cref="Kernels.SoftmaxKernels"/>):
/// <code>
/// logits [10][L] (lane innermost)  →  probabilities [n][10] (image-major)   predictions [n] (first of equal maxima)
/// loss = −log max(p[label], 1e-30)   dLogits [10][L] = (p − onehot)/count, or p(1 − p)/count in second-order mode
/// </code>
/// Lanes at or past <c>valid</c> (a partly filled last tile) get no output and a zero gradient.
/// </summary>
internal static unsafe class SoftmaxTiles
{
    /// <param name="scratch">10 vectors.</param>
    public static void Forward<TS, TV>(float* logits, int valid, float* probabilities, int* predictions, float* scratch)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        TV max = TS.Load(logits), best = TS.Zero;
        for (int c = 1; c < Classes; c++)
        {
            TV v = TS.Load(logits + c * L);
            TV greater = TS.GreaterThan(v, max);
            best = TS.Select(greater, TS.Broadcast(c), best);
            max = TS.Max(max, v);
        }
        TV total = TS.Zero;
        for (int c = 0; c < Classes; c++)
        {
            TV e = Exp.OfNonPositive<TS, TV>(TS.Subtract(TS.Load(logits + c * L), max));
            TS.Store(scratch + c * L, e);
            total = TS.Add(total, e);
        }
        TV inverse = TS.Divide(TS.Broadcast(1f), total);
        for (int c = 0; c < Classes; c++)
            TS.Store(scratch + c * L, TS.Multiply(TS.Load(scratch + c * L), inverse));

        float* bestLanes = stackalloc float[L];
        TS.Store(bestLanes, best);
        for (int n = 0; n < valid; n++)
        {
            for (int c = 0; c < Classes; c++)
                probabilities[n * Classes + c] = scratch[c * L + n];
            predictions[n] = (int)bestLanes[n];
        }
    }

    /// <summary>Writes dLogits for the tile, each valid image's loss to <paramref name="losses"/>, and adds its hits.</summary>
    public static void Backward(int lanes, int valid, int count, bool secondOrder, float* probabilities, int* predictions,
        int* labels, float* dLogits, double* losses, ref int correct)
    {
        float scale = 1f / count;
        for (int n = 0; n < lanes; n++)
        {
            if (n >= valid)
            {
                for (int c = 0; c < Classes; c++) dLogits[c * lanes + n] = 0f;
                continue;
            }
            int label = labels[n];
            float* p = probabilities + n * Classes;
            for (int c = 0; c < Classes; c++)
                dLogits[c * lanes + n] = secondOrder
                    ? p[c] * (1f - p[c]) * scale
                    : (p[c] - (c == label ? 1f : 0f)) * scale;
            losses[n] = -MathF.Log(MathF.Max(p[label], 1e-30f));
            if (predictions[n] == label) correct++;
        }
    }
}
