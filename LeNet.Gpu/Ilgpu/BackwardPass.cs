using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// Gradient buffers for one batch capacity and the launches of the backward pass, layer by layer from the
/// loss back to C1. Activation gradients are assigned; parameter gradients (<see cref="Gradients"/>, same flat
/// layout as the parameters) are assigned too, each already summed over the batch inside its kernel thread.
/// In second-order mode the same launches compute the Gauss–Newton Hessian diagonal instead (for SDLM).
/// </summary>
public sealed class BackwardPass : IDisposable
{
    public MemoryBuffer1D<float, Stride1D.Dense> Gradients { get; }
    public MemoryBuffer1D<int, Stride1D.Dense> Labels { get; }
    public MemoryBuffer1D<float, Stride1D.Dense> Losses { get; }
    public MemoryBuffer1D<int, Stride1D.Dense> Correct { get; }
    private readonly MemoryBuffer1D<float, Stride1D.Dense> dLogits, dF6, dC5, dS4, dC3, dS2, dC1;

    /// <summary>An RBF model's gradient of its fixed centres and (unused) output biases: always zero.</summary>
    private static readonly float[] OutputZeros = new float[P.OutputWeight.Length + P.OutputBias.Length];

    public BackwardPass(Accelerator accelerator, int capacity)
    {
        Gradients = accelerator.Allocate1D<float>(P.Length);
        Labels = accelerator.Allocate1D<int>(capacity);
        Losses = accelerator.Allocate1D<float>(capacity);
        Correct = accelerator.Allocate1D<int>(capacity);
        MemoryBuffer1D<float, Stride1D.Dense> GradientOf(Layer layer) =>
            accelerator.Allocate1D<float>(ForwardPass.ShapeOf(layer, capacity).Length);
        dLogits = GradientOf(Layer.Output);
        dF6 = GradientOf(Layer.F6);
        dC5 = GradientOf(Layer.C5);
        dS4 = GradientOf(Layer.S4);
        dC3 = GradientOf(Layer.C3);
        dS2 = GradientOf(Layer.S2);
        dC1 = GradientOf(Layer.C1);
    }

    public ArrayView<float> Gradient(ParameterSlice slice) => Gradients.View.SubView(slice.Offset, slice.Length);

    /// <summary>The MAP criterion's j, for RBF models (<see cref="RbfKernels"/>).</summary>
    public float MapJ { get; set; }

    /// <summary>
    /// The launches of the backward pass, in the order <see cref="Run"/> makes them: from the loss back to C1.
    /// C3Squash and C1Squash launch only for squashed convolutions (a linear model's C1 and C3 need none).
    /// </summary>
    public enum Step
    {
        Loss,
        OutputParameters, OutputInput,
        F6Squash, F6Parameters, F6Input,
        C5Squash, C5Parameters, C5Input,
        S4Squash, S4Parameters, S4Input,
        C3Squash, C3Parameters, C3Input,
        S2Squash, S2Parameters, S2Input,
        C1Squash, C1Parameters,
    }

    /// <summary>
    /// Loss and gradients for the <paramref name="count"/> images whose forward pass is in <paramref name="forward"/>
    /// and whose labels are in <see cref="Labels"/>. Also writes per-image losses and correctness.
    /// </summary>
    public void Run(LeNetKernels kernels, AcceleratorStream stream, DeviceParameters parameters, ForwardPass forward, int count,
        bool secondOrder = false)
    {
        foreach (var step in Enum.GetValues<Step>()) Launch(step, kernels, stream, parameters, forward, count, secondOrder);
    }

    /// <summary>
    /// Enqueues one launch of the backward pass, exactly as <see cref="Run"/> makes it (the benchmarks time each
    /// alone). It reads what the steps before it wrote; the squashing steps scale their gradient buffer in place.
    /// </summary>
    public void Launch(Step step, LeNetKernels kernels, AcceleratorStream stream, DeviceParameters parameters, ForwardPass forward,
        int count, bool secondOrder = false)
    {
        var order = secondOrder ? GradientOrder.Second : GradientOrder.First;
        var squash = parameters.Squashing.ToActivation();
        var convolution = parameters.ConvolutionActivation; // C1 and C3: identity (nothing to do), or squashed
        DenseWeights GradientOf(ParameterSlice weight, ParameterSlice bias) => new(Gradient(weight), Gradient(bias));
        SubsamplingWeights SubsamplingGradientOf(ParameterSlice coefficient, ParameterSlice bias) => new(Gradient(coefficient), Gradient(bias));
        BatchShape Shape(Layer layer) => forward.ShapeOf(layer, count);

        switch (step)
        {
            // RBF output: the MAP loss writes dF6 itself; the fixed centres get zero gradients and OUTPUT's dense
            // steps have nothing to do.
            case Step.Loss when parameters.Output == OutputLayer.Rbf:
                kernels.Rbf.MapBackward(stream, Shape(Layer.Output), order, MapJ, forward.Logits.View, forward.F6.View, parameters.View(P.OutputWeight),
                    forward.Predictions.View, Labels.View, dF6.View, Losses.View, Correct.View);
                break;
            case Step.OutputParameters when parameters.Output == OutputLayer.Rbf:
                // Copied from zeros, not MemSetToZero: ILGPU 1.5.3's OpenCL memset scales a sub-view's byte offset by
                // the element size again, so on a real OpenCL driver it fails (or would zero other floats).
                Gradients.View.SubView(P.OutputWeight.Offset, OutputZeros.Length).CopyFromCPU(stream, OutputZeros);
                break;
            case Step.OutputInput when parameters.Output == OutputLayer.Rbf:
                break;
            case Step.Loss:
                kernels.Softmax.CrossEntropyBackward(stream, Shape(Layer.Output), order, forward.Probabilities.View, forward.Predictions.View,
                    Labels.View, dLogits.View, Losses.View, Correct.View);
                break;

            // OUTPUT F6 → classes (identity)
            case Step.OutputParameters:
                kernels.FullyConnected.BackwardParameters(stream, Shape(Layer.F6), Shape(Layer.Output), order,
                    dLogits.View, forward.F6.View, GradientOf(P.OutputWeight, P.OutputBias));
                break;
            case Step.OutputInput:
                kernels.FullyConnected.BackwardInput(stream, Shape(Layer.F6), Shape(Layer.Output), order,
                    dLogits.View, parameters.View(P.OutputWeight), dF6.View);
                break;

            // F6 C5 → F6 (squashed)
            case Step.F6Squash:
                kernels.Squashing.Backward(stream, Shape(Layer.F6), squash, order, forward.F6.View, dF6.View);
                break;
            case Step.F6Parameters:
                kernels.FullyConnected.BackwardParameters(stream, Shape(Layer.C5), Shape(Layer.F6), order,
                    dF6.View, forward.C5.View, GradientOf(P.F6Weight, P.F6Bias));
                break;
            case Step.F6Input:
                kernels.FullyConnected.BackwardInput(stream, Shape(Layer.C5), Shape(Layer.F6), order,
                    dF6.View, parameters.View(P.F6Weight), dC5.View);
                break;

            // C5 S4 → C5 (squashed)
            case Step.C5Squash:
                kernels.Squashing.Backward(stream, Shape(Layer.C5), squash, order, forward.C5.View, dC5.View);
                break;
            case Step.C5Parameters:
                kernels.Convolution.BackwardParameters(stream, Shape(Layer.S4), Shape(Layer.C5), order,
                    dC5.View, forward.S4.View, parameters.C5Mask, GradientOf(P.C5Weight, P.C5Bias));
                break;
            case Step.C5Input:
                kernels.Convolution.BackwardInput(stream, Shape(Layer.S4), Shape(Layer.C5), order,
                    dC5.View, parameters.Convolution(P.C5Weight, P.C5Bias, parameters.C5Mask), dS4.View);
                break;

            // S4 C3 → S4 (squashed)
            case Step.S4Squash:
                kernels.Squashing.Backward(stream, Shape(Layer.S4), squash, order, forward.S4.View, dS4.View);
                break;
            case Step.S4Parameters:
                kernels.Subsampling.BackwardParameters(stream, Shape(Layer.C3), Shape(Layer.S4), order,
                    dS4.View, forward.C3.View, SubsamplingGradientOf(P.S4Coefficient, P.S4Bias));
                break;
            case Step.S4Input:
                kernels.Subsampling.BackwardInput(stream, Shape(Layer.C3), Shape(Layer.S4), order,
                    dS4.View, parameters.View(P.S4Coefficient), dC3.View);
                break;

            // C3 S2 → C3 (Table I; identity, or squashed)
            case Step.C3Squash:
                if (convolution != Activation.Identity)
                    kernels.Squashing.Backward(stream, Shape(Layer.C3), convolution, order, forward.C3.View, dC3.View);
                break;
            case Step.C3Parameters:
                kernels.Convolution.BackwardParameters(stream, Shape(Layer.S2), Shape(Layer.C3), order,
                    dC3.View, forward.S2.View, parameters.C3Mask, GradientOf(P.C3Weight, P.C3Bias));
                break;
            case Step.C3Input:
                kernels.Convolution.BackwardInput(stream, Shape(Layer.S2), Shape(Layer.C3), order,
                    dC3.View, parameters.Convolution(P.C3Weight, P.C3Bias, parameters.C3Mask), dS2.View);
                break;

            // S2 C1 → S2 (squashed)
            case Step.S2Squash:
                kernels.Squashing.Backward(stream, Shape(Layer.S2), squash, order, forward.S2.View, dS2.View);
                break;
            case Step.S2Parameters:
                kernels.Subsampling.BackwardParameters(stream, Shape(Layer.C1), Shape(Layer.S2), order,
                    dS2.View, forward.C1.View, SubsamplingGradientOf(P.S2Coefficient, P.S2Bias));
                break;
            case Step.S2Input:
                kernels.Subsampling.BackwardInput(stream, Shape(Layer.C1), Shape(Layer.S2), order,
                    dS2.View, parameters.View(P.S2Coefficient), dC1.View);
                break;

            // C1 INPUT → C1 (identity, or squashed); the input needs no gradient.
            case Step.C1Squash:
                if (convolution != Activation.Identity)
                    kernels.Squashing.Backward(stream, Shape(Layer.C1), convolution, order, forward.C1.View, dC1.View);
                break;
            case Step.C1Parameters:
                kernels.Convolution.BackwardParameters(stream, Shape(Layer.Input), Shape(Layer.C1), order,
                    dC1.View, forward.Input.View, parameters.C1Mask, GradientOf(P.C1Weight, P.C1Bias));
                break;

            default:
                throw new ArgumentOutOfRangeException(nameof(step), step, "not a step of the backward pass");
        }
    }

    public void Dispose()
    {
        foreach (var b in new MemoryBuffer[] { Gradients, Labels, Losses, Correct, dLogits, dF6, dC5, dS4, dC3, dS2, dC1 })
            b.Dispose();
    }
}
