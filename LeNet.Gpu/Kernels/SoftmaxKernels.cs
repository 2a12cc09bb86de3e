using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// The 10-way softmax classifier and its cross-entropy loss:
/// <code>
/// logits [10][Stride] (batch innermost)  →  probabilities [Stride][10] (image-major, as the host reads them)
/// predictions [Stride] (argmax; the first of equal maxima)   labels [Stride]   losses, correct [Stride]
/// </code>
/// </summary>
public static class SoftmaxKernels
{
    public const int Classes = Model.Architecture.Classes;

    /// <summary>One thread per image. Subtracts the largest logit first so exp never overflows.</summary>
    public static void Forward(Index1D n, int stride, ArrayView<float> logits,
        ArrayView<float> probabilities, ArrayView<int> predictions)
    {
        float max = logits[n];
        int best = 0;
        for (int c = 1; c < Classes; c++)
        {
            float v = logits[c * stride + n];
            if (v > max) { max = v; best = c; }
        }
        float total = 0f;
        for (int c = 0; c < Classes; c++)
        {
            float e = XMath.Exp(logits[c * stride + n] - max);
            probabilities[n * Classes + c] = e;
            total += e;
        }
        float inverse = 1f / total;
        for (int c = 0; c < Classes; c++)
            probabilities[n * Classes + c] *= inverse;
        predictions[n] = best;
    }

    /// <summary>
    /// Loss E = mean over the batch of −log p[label]. Writes dE/dlogit = (p − onehot)/count into dLogits
    /// [10][Stride]; in second-order mode the Gauss–Newton diagonal p(1 − p)/count instead. Also writes each
    /// image's loss and whether its prediction was right. One thread per image.
    /// </summary>
    public static void CrossEntropyBackward(Index1D n, int count, int stride, int secondOrder,
        ArrayView<float> probabilities, ArrayView<int> predictions, ArrayView<int> labels,
        ArrayView<float> dLogits, ArrayView<float> losses, ArrayView<int> correct)
    {
        int label = labels[n];
        float scale = 1f / count;
        for (int c = 0; c < Classes; c++)
        {
            float p = probabilities[n * Classes + c];
            dLogits[c * stride + n] = secondOrder != 0
                ? p * (1f - p) * scale
                : (p - (c == label ? 1f : 0f)) * scale;
        }
        losses[n] = -XMath.Log(XMath.Max(probabilities[n * Classes + label], 1e-30f));
        correct[n] = predictions[n] == label ? 1 : 0;
    }

    /// <summary>
    /// stats[0] += Σ losses, stats[1] += Σ correct, stats[2] += count: one thread, in order, so the running
    /// totals are the same on every run. The host reads them only when it asks.
    /// </summary>
    public static void AccumulateStatistics(Index1D index, int count,
        ArrayView<float> losses, ArrayView<int> correct, ArrayView<float> stats)
    {
        float loss = 0f, right = 0f;
        for (int n = 0; n < count; n++)
        {
            loss += losses[n];
            right += correct[n];
        }
        stats[0] += loss;
        stats[1] += right;
        stats[2] += count;
    }
}
