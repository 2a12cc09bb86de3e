using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// The paper's output layer: ten Euclidean RBF units over F6 and the MAP criterion (<see cref="Model.OutputLayer.Rbf"/>).
/// <code>
/// f6 [84][Stride] (batch innermost)   centres [10][84] (±1, output.weight)   z = −y [10][Stride] (the Logits buffer)
/// Forward:   z_i = −Σ_k (x_k − c_ik)²; the softmax kernel then gives softmax(−y) and the smallest y_i as the class
/// Loss:      E = y_D + log(e^−j + Σ_i e^−y_i),   q_i = e^−y_i / (e^−j + Σ e^−y)
/// Backward:  dF6[k] = 2·Σ_i (q_i − [i = D])·(c_ik − x_k) / count
/// Second:    dF6[k] = (2 + 4·Σ_i q_i(1 − q_i)·(x_k − c_ik)²) / count  (y_D's exact curvature, the log term by Gauss–Newton)
/// </code>
/// One thread per image: 840 multiply-adds each, a sliver of the network's work. The layer has no trainable
/// parameters (the centres are fixed), so there is no parameter-gradient kernel.
/// </summary>
public static class RbfKernels
{
    public static void Forward(Index1D n, int stride, ArrayView<float> f6, ArrayView<float> centres, ArrayView<float> logits)
    {
        for (int i = 0; i < Classes; i++)
        {
            float y = 0f;
            for (int k = 0; k < F6Units; k++)
            {
                float r = f6[k * stride + n] - centres[i * F6Units + k];
                y += r * r;
            }
            logits[i * stride + n] = -y;
        }
    }

    /// <summary>
    /// The MAP loss of each image and dE/dF6 (or its second-order diagonal) for the batch of <paramref name="count"/>;
    /// also each image's loss and whether its prediction (from the softmax kernel) was right.
    /// </summary>
    public static void MapBackward(Index1D n, int count, int stride, int secondOrder, float j,
        ArrayView<float> logits, ArrayView<float> f6, ArrayView<float> centres, ArrayView<int> predictions, ArrayView<int> labels,
        ArrayView<float> dF6, ArrayView<float> losses, ArrayView<int> correct)
    {
        int label = labels[n];
        float m = -j;
        for (int i = 0; i < Classes; i++) m = XMath.Max(m, logits[i * stride + n]);
        float sum = XMath.Exp(-j - m);
        for (int i = 0; i < Classes; i++) sum += XMath.Exp(logits[i * stride + n] - m);
        float inverse = 1f / sum, scale = 1f / count;
        for (int k = 0; k < F6Units; k++)
        {
            float x = f6[k * stride + n];
            float g = secondOrder != 0 ? 2f : 0f;
            for (int i = 0; i < Classes; i++)
            {
                float q = XMath.Exp(logits[i * stride + n] - m) * inverse;
                float c = centres[i * F6Units + k];
                g += secondOrder != 0
                    ? 4f * q * (1f - q) * (x - c) * (x - c)
                    : 2f * (q - (i == label ? 1f : 0f)) * (c - x);
            }
            dF6[k * stride + n] = g * scale;
        }
        losses[n] = -logits[label * stride + n] + m + XMath.Log(sum);
        correct[n] = predictions[n] == label ? 1 : 0;
    }
}

/// <summary>The RBF output kernels loaded for one accelerator: one thread per image of the batch.</summary>
public sealed class RbfLaunches
{
    private readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<AcceleratorStream, Index1D, int, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>> mapBackward;

    public RbfLaunches(Accelerator accelerator)
    {
        forward = accelerator.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(RbfKernels.Forward);
        mapBackward = accelerator.LoadAutoGroupedKernel<Index1D, int, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>>(RbfKernels.MapBackward);
    }

    /// <summary><see cref="RbfKernels.Forward"/>: each image's distances to the fixed centres.</summary>
    public void Forward(AcceleratorStream stream, BatchShape shape, ArrayView<float> f6, ArrayView<float> centres, ArrayView<float> distances) =>
        forward(stream, shape.Count, shape.Stride, f6, centres, distances);

    /// <summary><see cref="RbfKernels.MapBackward"/>: the MAP loss with its <paramref name="j"/>, and dE/dF6.</summary>
    public void MapBackward(AcceleratorStream stream, BatchShape shape, GradientOrder order, float j,
        ArrayView<float> distances, ArrayView<float> f6, ArrayView<float> centres, ArrayView<int> predictions, ArrayView<int> labels,
        ArrayView<float> f6Gradient, ArrayView<float> losses, ArrayView<int> correct) =>
        mapBackward(stream, shape.Count, shape.Count, shape.Stride, (int)order, j,
            distances, f6, centres, predictions, labels, f6Gradient, losses, correct);
}
