using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// The paper's subsampling layers S2 (6@28x28 → 6@14x14) and S4 (16@10x10 → 16@5x5):
/// <code>
/// y[m,y,x] = f( coefficient[m] · Σ_{dy,dx ∈ {0,1}} input[m, 2y+dy, 2x+dx] + bias[m] )
/// input [Maps][2·Size][2·Size][Stride]   output [Maps][Size][Size][Stride]   coefficient, bias [Maps]
/// </code>
/// Gradient rule as in <see cref="ConvolutionKernels"/>: outputs assigned, batch sums inside one thread.
/// </summary>
public static class SubsamplingKernels
{
    /// <summary>One thread per (map, image), looping over the output map.</summary>
    public static void Forward(Index1D index, BatchShape inShape, BatchShape outShape, int activation,
        ArrayView<float> input, ArrayView<float> coefficient, ArrayView<float> bias, ArrayView<float> output)
    {
        int n = index % outShape.Count, m = index / outShape.Count;
        int stride = outShape.Stride, inSize = inShape.Size, outSize = outShape.Size;
        float c = coefficient[m], b = bias[m];
        for (int y = 0; y < outSize; y++)
            for (int x = 0; x < outSize; x++)
            {
                int top = ((m * inSize + 2 * y) * inSize + 2 * x) * stride + n;
                int bottom = top + inSize * stride;
                float sum = input[top] + input[top + stride] + input[bottom] + input[bottom + stride];
                output[((m * outSize + y) * outSize + x) * stride + n] = Squash.Apply(c * sum + b, activation);
            }
    }

    /// <summary>dInput[m,y,x] = coefficient[m] · dA[m, y/2, x/2] (coefficient² in second-order mode). One thread per (map, image).</summary>
    public static void BackwardInput(Index1D index, BatchShape inShape, BatchShape outShape, int secondOrder,
        ArrayView<float> dA, ArrayView<float> coefficient, ArrayView<float> dInput)
    {
        int n = index % inShape.Count, m = index / inShape.Count;
        int stride = inShape.Stride, inSize = inShape.Size, outSize = outShape.Size;
        float c = coefficient[m];
        if (secondOrder != 0) c *= c;
        for (int y = 0; y < inSize; y++)
            for (int x = 0; x < inSize; x++)
                dInput[((m * inSize + y) * inSize + x) * stride + n] =
                    c * dA[((m * outSize + y / 2) * outSize + x / 2) * stride + n];
    }

    /// <summary>
    /// dCoefficient[m] = Σ_n Σ_{y,x} dA[m,y,x,n] · (sum of the 2×2 block)  (its square in second-order mode);
    /// dBias[m] = Σ_n Σ_{y,x} dA[m,y,x,n]. One thread per map, summing over the batch.
    /// </summary>
    public static void BackwardParameters(Index1D m, BatchShape inShape, BatchShape outShape, int secondOrder,
        ArrayView<float> dA, ArrayView<float> input, ArrayView<float> dCoefficient, ArrayView<float> dBias)
    {
        int count = outShape.Count, stride = outShape.Stride, inSize = inShape.Size, outSize = outShape.Size;
        float dc = 0f, db = 0f;
        for (int y = 0; y < outSize; y++)
            for (int x = 0; x < outSize; x++)
            {
                int a = ((m * outSize + y) * outSize + x) * stride;
                int top = ((m * inSize + 2 * y) * inSize + 2 * x) * stride;
                int bottom = top + inSize * stride;
                for (int n = 0; n < count; n++)
                {
                    float sum = input[top + n] + input[top + stride + n] + input[bottom + n] + input[bottom + stride + n];
                    if (secondOrder != 0) sum *= sum;
                    dc += dA[a + n] * sum;
                    db += dA[a + n];
                }
            }
        dCoefficient[m] = dc;
        dBias[m] = db;
    }
}

/// <summary>The subsampling kernels loaded for one accelerator; each launch sizes its own grid from the shapes.</summary>
public sealed class SubsamplingLaunches
{
    private readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardInput;
    private readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardParameters;

    public SubsamplingLaunches(Accelerator accelerator)
    {
        forward = accelerator.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SubsamplingKernels.Forward);
        backwardInput = accelerator.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>>(SubsamplingKernels.BackwardInput);
        backwardParameters = accelerator.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SubsamplingKernels.BackwardParameters);
    }

    /// <summary><see cref="SubsamplingKernels.Forward"/>: one thread per (map, image).</summary>
    public void Forward(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, Model.Activation activation,
        ArrayView<float> input, SubsamplingWeights weights, ArrayView<float> output) =>
        forward(stream, outputShape.MapThreads, inputShape, outputShape, (int)activation,
            input, weights.Coefficient, weights.Bias, output);

    /// <summary><see cref="SubsamplingKernels.BackwardInput"/>: one thread per (input map, image).</summary>
    public void BackwardInput(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, GradientOrder order,
        ArrayView<float> outputGradient, ArrayView<float> coefficient, ArrayView<float> inputGradient) =>
        backwardInput(stream, inputShape.MapThreads, inputShape, outputShape, (int)order, outputGradient, coefficient, inputGradient);

    /// <summary><see cref="SubsamplingKernels.BackwardParameters"/>: one thread per map, summing over the batch.</summary>
    public void BackwardParameters(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, GradientOrder order,
        ArrayView<float> outputGradient, ArrayView<float> input, SubsamplingWeights gradient) =>
        backwardParameters(stream, outputShape.Maps, inputShape, outputShape, (int)order,
            outputGradient, input, gradient.Coefficient, gradient.Bias);
}
