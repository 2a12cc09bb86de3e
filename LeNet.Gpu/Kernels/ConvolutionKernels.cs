using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// Valid 5×5 convolution with a connection mask, serving C1 (1→6, 32→28), C3 (6→16, 14→10, Table I) and
/// C5 (16→120, 5→1). Shapes:
/// <code>
/// input  [In.Maps][In.Size][In.Size][Stride]         output [Out.Maps][Out.Size][Out.Size][Stride]
/// weight [Out.Maps][In.Maps][5][5]   bias [Out.Maps]   mask [Out.Maps][In.Maps] (int, 1 = connected)
/// </code>
/// a[o,y,x] = bias[o] + Σ_{i: mask[o,i]=1} Σ_{ky,kx} weight[o,i,ky,kx] · input[i, y+ky, x+kx]
/// Entries of weight where the mask is 0 are never read, so they stay without effect whatever they hold.
/// Gradient rule: every kernel here assigns (=) its output; parameter gradients are summed over the batch inside
/// one thread, in a fixed order, so results are deterministic on every device.
/// </summary>
public static class ConvolutionKernels
{
    public const int K = Model.Architecture.KernelSize;

    /// <summary>One thread per (output map, image); it loops over the map's pixels.</summary>
    public static void Forward(Index1D index, BatchShape inShape, BatchShape outShape, int activation,
        ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<int> mask,
        ArrayView<float> output)
    {
        int n = index % outShape.Count, o = index / outShape.Count;
        int stride = outShape.Stride, inSize = inShape.Size, outSize = outShape.Size, inMaps = inShape.Maps;
        float b = bias[o];
        for (int y = 0; y < outSize; y++)
            for (int x = 0; x < outSize; x++)
            {
                float sum = b;
                for (int i = 0; i < inMaps; i++)
                {
                    if (mask[o * inMaps + i] == 0) continue;
                    int w = (o * inMaps + i) * K * K;
                    for (int ky = 0; ky < K; ky++)
                    {
                        int row = ((i * inSize + y + ky) * inSize + x) * stride + n;
                        for (int kx = 0; kx < K; kx++)
                            sum += weight[w + ky * K + kx] * input[row + kx * stride];
                    }
                }
                output[((o * outSize + y) * outSize + x) * stride + n] = Squash.Apply(sum, activation);
            }
    }

    /// <summary>
    /// dInput[i,y,x] = Σ_{o: mask[o,i]=1} Σ_{ky,kx} weight[o,i,ky,kx] · dA[o, y−ky, x−kx] (terms inside the map).
    /// dA is the gradient of the weighted sums. One thread per (input map, image). In second-order mode the
    /// weights are squared (Hessian diagonal, Gauss–Newton).
    /// </summary>
    public static void BackwardInput(Index1D index, BatchShape inShape, BatchShape outShape, int secondOrder,
        ArrayView<float> dA, ArrayView<float> weight, ArrayView<int> mask, ArrayView<float> dInput)
    {
        int n = index % inShape.Count, i = index / inShape.Count;
        int stride = inShape.Stride, inSize = inShape.Size, outSize = outShape.Size, inMaps = inShape.Maps;
        for (int y = 0; y < inSize; y++)
            for (int x = 0; x < inSize; x++)
            {
                float sum = 0f;
                int kyLo = y - outSize + 1 > 0 ? y - outSize + 1 : 0, kyHi = y < K - 1 ? y : K - 1;
                int kxLo = x - outSize + 1 > 0 ? x - outSize + 1 : 0, kxHi = x < K - 1 ? x : K - 1;
                for (int o = 0; o < outShape.Maps; o++)
                {
                    if (mask[o * inMaps + i] == 0) continue;
                    int w = (o * inMaps + i) * K * K;
                    for (int ky = kyLo; ky <= kyHi; ky++)
                        for (int kx = kxLo; kx <= kxHi; kx++)
                        {
                            float wv = weight[w + ky * K + kx];
                            if (secondOrder != 0) wv *= wv;
                            sum += wv * dA[((o * outSize + y - ky) * outSize + x - kx) * stride + n];
                        }
                }
                dInput[((i * inSize + y) * inSize + x) * stride + n] = sum;
            }
    }

    /// <summary>
    /// dWeight[o,i,ky,kx] = Σ_n Σ_{y,x} dA[o,y,x,n] · input[i,y+ky,x+kx,n]; dBias[o] = Σ_n Σ_{y,x} dA[o,y,x,n].
    /// Elements: Out.Maps·In.Maps·25 weights, then Out.Maps biases, each summed over the whole batch by one thread;
    /// thread t of <c>threads</c> takes elements t, t + threads… Masked weights get exactly 0. In second-order
    /// mode the inputs are squared.
    /// </summary>
    public static void BackwardParameters(Index1D index, int threads, BatchShape inShape, BatchShape outShape, int secondOrder,
        ArrayView<float> dA, ArrayView<float> input, ArrayView<int> mask,
        ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        int count = outShape.Count, stride = outShape.Stride, outSize = outShape.Size, inSize = inShape.Size;
        int weights = outShape.Maps * inShape.Maps * K * K;
        for (int e = index; e < weights + outShape.Maps; e += threads)
        {
            if (e >= weights)
            {
                int ob = e - weights;
                float db = 0f;
                for (int p = 0; p < outSize * outSize; p++)
                    for (int n = 0; n < count; n++)
                        db += dA[(ob * outSize * outSize + p) * stride + n];
                dBias[ob] = db;
                continue;
            }

            int kx = e % K, ky = e / K % K, i = e / (K * K) % inShape.Maps, o = e / (K * K * inShape.Maps);
            if (mask[o * inShape.Maps + i] == 0)
            {
                dWeight[e] = 0f;
                continue;
            }
            float sum = 0f;
            for (int y = 0; y < outSize; y++)
                for (int x = 0; x < outSize; x++)
                {
                    int a = ((o * outSize + y) * outSize + x) * stride;
                    int b = ((i * inSize + y + ky) * inSize + x + kx) * stride;
                    for (int n = 0; n < count; n++)
                    {
                        float v = input[b + n];
                        if (secondOrder != 0) v *= v;
                        sum += dA[a + n] * v;
                    }
                }
            dWeight[e] = sum;
        }
    }
}

/// <summary>The convolution kernels loaded for one accelerator; each launch sizes its own grid from the shapes.</summary>
public sealed class ConvolutionLaunches
{
    private readonly LaunchGrid grid;
    private readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>> forward;
    private readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>> backwardInput;
    private readonly Action<AcceleratorStream, Index1D, int, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>> backwardParameters;

    public ConvolutionLaunches(Accelerator accelerator)
    {
        grid = new LaunchGrid(accelerator);
        forward = accelerator.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(ConvolutionKernels.Forward);
        backwardInput = accelerator.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(ConvolutionKernels.BackwardInput);
        backwardParameters = accelerator.LoadAutoGroupedKernel<Index1D, int, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>>(ConvolutionKernels.BackwardParameters);
    }

    /// <summary><see cref="ConvolutionKernels.Forward"/>: one thread per (output map, image).</summary>
    public void Forward(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, Model.Activation activation,
        ArrayView<float> input, ConvolutionWeights weights, ArrayView<float> output) =>
        forward(stream, outputShape.MapThreads, inputShape, outputShape, (int)activation,
            input, weights.Weight, weights.Bias, weights.Mask, output);

    /// <summary><see cref="ConvolutionKernels.BackwardInput"/>: one thread per (input map, image); the bias is not read.</summary>
    public void BackwardInput(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, GradientOrder order,
        ArrayView<float> outputGradient, ConvolutionWeights weights, ArrayView<float> inputGradient) =>
        backwardInput(stream, inputShape.MapThreads, inputShape, outputShape, (int)order,
            outputGradient, weights.Weight, weights.Mask, inputGradient);

    /// <summary>
    /// <see cref="ConvolutionKernels.BackwardParameters"/>: grid-stride over every weight and bias, with
    /// <see cref="LaunchGrid.ThreadsFor"/> threads unless <paramref name="threads"/> is given.
    /// </summary>
    public void BackwardParameters(AcceleratorStream stream, BatchShape inputShape, BatchShape outputShape, GradientOrder order,
        ArrayView<float> outputGradient, ArrayView<float> input, ArrayView<int> mask, DenseWeights gradient, int threads = 0)
    {
        threads = threads > 0 ? threads : grid.ThreadsFor((int)(gradient.Weight.Length + gradient.Bias.Length));
        backwardParameters(stream, threads, threads, inputShape, outputShape, (int)order,
            outputGradient, input, mask, gradient.Weight, gradient.Bias);
    }
}
