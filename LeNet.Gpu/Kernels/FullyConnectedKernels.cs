using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// Dense layers F6 (120 → 84, squashed) and OUTPUT (84 → 10 logits, identity; the softmax follows):
/// <code>
/// y[o] = f( bias[o] + Σ_j weight[o,j] · input[j] )
/// input [In][Stride]   output [Out][Stride]   weight [Out][In]   bias [Out]
/// </code>
/// Gradient rule as in <see cref="ConvolutionKernels"/>.
/// </summary>
public static class FullyConnectedKernels
{
    /// <summary>One thread per (output unit, image).</summary>
    public static void Forward(Index1D index, int inUnits, int outUnits, int count, int stride, int activation,
        ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output)
    {
        int n = index % count, o = index / count;
        float sum = bias[o];
        for (int j = 0; j < inUnits; j++)
            sum += weight[o * inUnits + j] * input[j * stride + n];
        output[o * stride + n] = Squash.Apply(sum, activation);
    }

    /// <summary>dInput[j] = Σ_o weight[o,j] · dA[o] (weight² in second-order mode). One thread per (input unit, image).</summary>
    public static void BackwardInput(Index1D index, int inUnits, int outUnits, int count, int stride, int secondOrder,
        ArrayView<float> dA, ArrayView<float> weight, ArrayView<float> dInput)
    {
        int n = index % count, j = index / count;
        float sum = 0f;
        for (int o = 0; o < outUnits; o++)
        {
            float w = weight[o * inUnits + j];
            if (secondOrder != 0) w *= w;
            sum += w * dA[o * stride + n];
        }
        dInput[j * stride + n] = sum;
    }

    /// <summary>
    /// dWeight[o,j] = Σ_n dA[o,n] · input[j,n] (input² in second-order mode); dBias[o] = Σ_n dA[o,n].
    /// Elements: Out·In weights, then Out biases, each summed over the batch in order by one thread; thread t of
    /// <c>threads</c> takes elements t, t + threads… (one thread per element on a GPU, fewer on the CPU accelerator).
    /// </summary>
    public static void BackwardParameters(Index1D index, int threads, int inUnits, int outUnits, int count, int stride, int secondOrder,
        ArrayView<float> dA, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        int weights = outUnits * inUnits;
        for (int e = index; e < weights + outUnits; e += threads)
        {
            if (e >= weights)
            {
                int ob = e - weights;
                float db = 0f;
                for (int n = 0; n < count; n++) db += dA[ob * stride + n];
                dBias[ob] = db;
                continue;
            }
            int o = e / inUnits, j = e % inUnits;
            float sum = 0f;
            for (int n = 0; n < count; n++)
            {
                float x = input[j * stride + n];
                if (secondOrder != 0) x *= x;
                sum += dA[o * stride + n] * x;
            }
            dWeight[e] = sum;
        }
    }
}

/// <summary>
/// The dense kernels loaded for one accelerator; each launch sizes its own grid from the shapes. Shapes are vectors
/// (<see cref="BatchShape.Size"/> 1): <see cref="BatchShape.Maps"/> units, <see cref="BatchShape.Count"/> images.
/// </summary>
public sealed class FullyConnectedLaunches
{
    private readonly LaunchGrid grid;
    private readonly Action<AcceleratorStream, Index1D, int, int, int, int, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<AcceleratorStream, Index1D, int, int, int, int, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardInput;
    private readonly Action<AcceleratorStream, Index1D, int, int, int, int, int, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardParameters;

    public FullyConnectedLaunches(Accelerator accelerator)
    {
        grid = new LaunchGrid(accelerator);
        forward = accelerator.LoadAutoGroupedKernel<Index1D, int, int, int, int, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FullyConnectedKernels.Forward);
        backwardInput = accelerator.LoadAutoGroupedKernel<Index1D, int, int, int, int, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>>(FullyConnectedKernels.BackwardInput);
        backwardParameters = accelerator.LoadAutoGroupedKernel<Index1D, int, int, int, int, int, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FullyConnectedKernels.BackwardParameters);
    }

    /// <summary><see cref="FullyConnectedKernels.Forward"/>: one thread per (unit, image).</summary>
    public void Forward(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, Model.Activation activation,
        ArrayView<float> input, DenseWeights weights, ArrayView<float> output) =>
        forward(stream, outputShape.MapThreads, inputShape.Maps, outputShape.Maps, outputShape.Count, outputShape.Stride,
            (int)activation, input, weights.Weight, weights.Bias, output);

    /// <summary><see cref="FullyConnectedKernels.BackwardInput"/>: one thread per (input unit, image).</summary>
    public void BackwardInput(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, GradientOrder order,
        ArrayView<float> outputGradient, ArrayView<float> weight, ArrayView<float> inputGradient) =>
        backwardInput(stream, inputShape.MapThreads, inputShape.Maps, outputShape.Maps, outputShape.Count, outputShape.Stride,
            (int)order, outputGradient, weight, inputGradient);

    /// <summary>
    /// <see cref="FullyConnectedKernels.BackwardParameters"/>: grid-stride over every weight and bias, with
    /// <see cref="LaunchGrid.ThreadsFor"/> threads unless <paramref name="threads"/> is given.
    /// </summary>
    public void BackwardParameters(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, GradientOrder order,
        ArrayView<float> outputGradient, ArrayView<float> input, DenseWeights gradient, int threads = 0)
    {
        threads = threads > 0 ? threads : grid.ThreadsFor((int)(gradient.Weight.Length + gradient.Bias.Length));
        backwardParameters(stream, threads, threads, inputShape.Maps, outputShape.Maps, outputShape.Count, outputShape.Stride,
            (int)order, outputGradient, input, gradient.Weight, gradient.Bias);
    }
}
