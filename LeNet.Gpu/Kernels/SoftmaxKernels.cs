using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using static LeNet.Gpu.Model.Architecture;

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

/// <summary>The softmax and cross-entropy kernels loaded for one accelerator: one thread per image of the batch.</summary>
public sealed class SoftmaxLaunches
{
    private readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<int>> forward;
    private readonly Action<AcceleratorStream, Index1D, int, int, int, ArrayView<float>, ArrayView<int>, ArrayView<int>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>> crossEntropyBackward;
    private readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<int>, ArrayView<float>> accumulateStatistics;

    public SoftmaxLaunches(Accelerator accelerator)
    {
        forward = accelerator.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<int>>(SoftmaxKernels.Forward);
        crossEntropyBackward = accelerator.LoadAutoGroupedKernel<Index1D, int, int, int, ArrayView<float>, ArrayView<int>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<int>>(SoftmaxKernels.CrossEntropyBackward);
        accumulateStatistics = accelerator.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<int>, ArrayView<float>>(
            SoftmaxKernels.AccumulateStatistics);
    }

    /// <summary><see cref="SoftmaxKernels.Forward"/> over the logits of <paramref name="shape"/>'s images.</summary>
    public void Forward(AcceleratorStream stream, BatchShape shape, ArrayView<float> logits, ArrayView<float> probabilities,
        ArrayView<int> predictions) =>
        forward(stream, shape.Count, shape.Stride, logits, probabilities, predictions);

    /// <summary><see cref="SoftmaxKernels.CrossEntropyBackward"/>: loss, correctness and dE/dlogits of each image.</summary>
    public void CrossEntropyBackward(AcceleratorStream stream, BatchShape shape, GradientOrder order,
        ArrayView<float> probabilities, ArrayView<int> predictions, ArrayView<int> labels,
        ArrayView<float> logitGradient, ArrayView<float> losses, ArrayView<int> correct) =>
        crossEntropyBackward(stream, shape.Count, shape.Count, shape.Stride, (int)order,
            probabilities, predictions, labels, logitGradient, losses, correct);

    /// <summary><see cref="SoftmaxKernels.AccumulateStatistics"/>: one thread adds the first <paramref name="count"/> losses and hits.</summary>
    public void AccumulateStatistics(AcceleratorStream stream, int count, ArrayView<float> losses, ArrayView<int> correct,
        ArrayView<float> statistics) =>
        accumulateStatistics(stream, 1, count, losses, correct, statistics);
}
