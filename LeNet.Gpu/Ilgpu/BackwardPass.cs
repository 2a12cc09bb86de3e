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
    /// <summary>The gradient of each computed layer's output, indexed by <see cref="Layer"/> (none for the input field).</summary>
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] deltas;

    /// <summary>An RBF model's gradient of its fixed centres and (unused) output biases: always zero.</summary>
    private static readonly float[] OutputZeros = new float[P.OutputWeight.Length + P.OutputBias.Length];

    public BackwardPass(Accelerator accelerator, int capacity)
    {
        Gradients = accelerator.Allocate1D<float>(P.Length);
        Labels = accelerator.Allocate1D<int>(capacity);
        Losses = accelerator.Allocate1D<float>(capacity);
        Correct = accelerator.Allocate1D<int>(capacity);
        deltas = Architecture.Layers.Skip(1).Select(l => accelerator.Allocate1D<float>(ForwardPass.ShapeOf(l.Layer, capacity).Length)).ToArray();
    }

    /// <summary>The gradient of <paramref name="layer"/>'s output for the whole capacity.</summary>
    private ArrayView<float> DeltaOf(Layer layer) => deltas[(int)layer - 1].View;

    public ArrayView<float> Gradient(ParameterSlice slice) => Gradients.View.SubView(slice.Offset, slice.Length);

    /// <summary>The MAP criterion's j, for RBF models (<see cref="RbfKernels"/>).</summary>
    public float MapJ { get; set; }

    /// <summary>
    /// The launches of the backward pass, in the order <see cref="Run"/> makes them: from the loss back to C1, each
    /// layer's in the order of <see cref="BackwardPart"/> (OUTPUT's loss where the others squash), derived from the layer
    /// table; C1 has no input step (the input needs no gradient). A squashing step of C1 or C3 launches only for squashed
    /// convolutions (a linear model's C1 and C3 need none).
    /// </summary>
    public static readonly IReadOnlyList<BackwardStep> Steps = Architecture.Layers.Skip(1).Reverse()
        .SelectMany(l => new[] { l.Layer == Layer.Output ? BackwardPart.Loss : BackwardPart.Squash, BackwardPart.Parameters, BackwardPart.Input }
            .Where(part => part != BackwardPart.Input || l.Layer != Layer.C1)
            .Select(part => new BackwardStep(l.Layer, part)))
        .ToArray();

    /// <summary>The first step: the loss and its gradient at OUTPUT (the trainer's evaluation launches it alone).</summary>
    public static readonly BackwardStep Loss = new(Layer.Output, BackwardPart.Loss);

    /// <summary>
    /// Loss and gradients for the <paramref name="count"/> images whose forward pass is in <paramref name="forward"/>
    /// and whose labels are in <see cref="Labels"/>. Also writes per-image losses and correctness.
    /// </summary>
    public void Run(LeNetKernels kernels, AcceleratorStream stream, DeviceParameters parameters, ForwardPass forward, int count,
        bool secondOrder = false)
    {
        foreach (var step in Steps) Launch(step, kernels, stream, parameters, forward, count, secondOrder);
    }

    /// <summary>
    /// Enqueues one launch of the backward pass, exactly as <see cref="Run"/> makes it (the benchmarks time each
    /// alone). It reads what the steps before it wrote; the squashing steps scale their gradient buffer in place.
    /// </summary>
    public void Launch(BackwardStep step, LeNetKernels kernels, AcceleratorStream stream, DeviceParameters parameters, ForwardPass forward,
        int count, bool secondOrder = false)
    {
        var order = secondOrder ? GradientOrder.Second : GradientOrder.First;
        var squash = parameters.Squashing.ToActivation();
        var convolution = parameters.ConvolutionActivation; // C1 and C3: identity (nothing to do), or squashed
        DenseWeights GradientOf(ParameterSlice weight, ParameterSlice bias) => new(Gradient(weight), Gradient(bias));
        SubsamplingWeights SubsamplingGradientOf(ParameterSlice coefficient, ParameterSlice bias) => new(Gradient(coefficient), Gradient(bias));
        BatchShape Shape(Layer layer) => forward.ShapeOf(layer, count);
        ArrayView<float> Of(Layer layer) => forward.OutputOf(layer).View;

        switch ((step.Layer, step.Part))
        {
            // RBF output: the MAP loss writes dF6 itself; the fixed centres get zero gradients and OUTPUT's dense
            // steps have nothing to do.
            case (Layer.Output, BackwardPart.Loss) when parameters.Output == OutputLayer.Rbf:
                kernels.Rbf.MapBackward(stream, Shape(Layer.Output), order, MapJ, Of(Layer.Output), Of(Layer.F6), parameters.View(P.OutputWeight),
                    forward.Predictions.View, Labels.View, DeltaOf(Layer.F6), Losses.View, Correct.View);
                break;
            case (Layer.Output, BackwardPart.Parameters) when parameters.Output == OutputLayer.Rbf:
                // Copied from zeros, not MemSetToZero: ILGPU 1.5.3's OpenCL memset scales a sub-view's byte offset by
                // the element size again, so on a real OpenCL driver it fails (or would zero other floats).
                Gradients.View.SubView(P.OutputWeight.Offset, OutputZeros.Length).CopyFromCPU(stream, OutputZeros);
                break;
            case (Layer.Output, BackwardPart.Input) when parameters.Output == OutputLayer.Rbf:
                break;
            case (Layer.Output, BackwardPart.Loss):
                kernels.Softmax.CrossEntropyBackward(stream, Shape(Layer.Output), order, forward.Probabilities.View, forward.Predictions.View,
                    Labels.View, DeltaOf(Layer.Output), Losses.View, Correct.View);
                break;

            // OUTPUT F6 → classes (identity)
            case (Layer.Output, BackwardPart.Parameters):
                kernels.FullyConnected.BackwardParameters(stream, Shape(Layer.F6), Shape(Layer.Output), order,
                    DeltaOf(Layer.Output), Of(Layer.F6), GradientOf(P.OutputWeight, P.OutputBias));
                break;
            case (Layer.Output, BackwardPart.Input):
                kernels.FullyConnected.BackwardInput(stream, Shape(Layer.F6), Shape(Layer.Output), order,
                    DeltaOf(Layer.Output), parameters.View(P.OutputWeight), DeltaOf(Layer.F6));
                break;

            // F6 C5 → F6 (squashed)
            case (Layer.F6, BackwardPart.Squash):
                kernels.Squashing.Backward(stream, Shape(Layer.F6), squash, order, Of(Layer.F6), DeltaOf(Layer.F6));
                break;
            case (Layer.F6, BackwardPart.Parameters):
                kernels.FullyConnected.BackwardParameters(stream, Shape(Layer.C5), Shape(Layer.F6), order,
                    DeltaOf(Layer.F6), Of(Layer.C5), GradientOf(P.F6Weight, P.F6Bias));
                break;
            case (Layer.F6, BackwardPart.Input):
                kernels.FullyConnected.BackwardInput(stream, Shape(Layer.C5), Shape(Layer.F6), order,
                    DeltaOf(Layer.F6), parameters.View(P.F6Weight), DeltaOf(Layer.C5));
                break;

            // C5 S4 → C5 (squashed)
            case (Layer.C5, BackwardPart.Squash):
                kernels.Squashing.Backward(stream, Shape(Layer.C5), squash, order, Of(Layer.C5), DeltaOf(Layer.C5));
                break;
            case (Layer.C5, BackwardPart.Parameters):
                kernels.Convolution.BackwardParameters(stream, Shape(Layer.S4), Shape(Layer.C5), order,
                    DeltaOf(Layer.C5), Of(Layer.S4), parameters.C5Mask, GradientOf(P.C5Weight, P.C5Bias));
                break;
            case (Layer.C5, BackwardPart.Input):
                kernels.Convolution.BackwardInput(stream, Shape(Layer.S4), Shape(Layer.C5), order,
                    DeltaOf(Layer.C5), parameters.Convolution(P.C5Weight, P.C5Bias, parameters.C5Mask), DeltaOf(Layer.S4));
                break;

            // S4 C3 → S4 (squashed)
            case (Layer.S4, BackwardPart.Squash):
                kernels.Squashing.Backward(stream, Shape(Layer.S4), squash, order, Of(Layer.S4), DeltaOf(Layer.S4));
                break;
            case (Layer.S4, BackwardPart.Parameters):
                kernels.Subsampling.BackwardParameters(stream, Shape(Layer.C3), Shape(Layer.S4), order,
                    DeltaOf(Layer.S4), Of(Layer.C3), SubsamplingGradientOf(P.S4Coefficient, P.S4Bias));
                break;
            case (Layer.S4, BackwardPart.Input):
                kernels.Subsampling.BackwardInput(stream, Shape(Layer.C3), Shape(Layer.S4), order,
                    DeltaOf(Layer.S4), parameters.View(P.S4Coefficient), DeltaOf(Layer.C3));
                break;

            // C3 S2 → C3 (Table I; identity, or squashed)
            case (Layer.C3, BackwardPart.Squash):
                if (convolution != Activation.Identity)
                    kernels.Squashing.Backward(stream, Shape(Layer.C3), convolution, order, Of(Layer.C3), DeltaOf(Layer.C3));
                break;
            case (Layer.C3, BackwardPart.Parameters):
                kernels.Convolution.BackwardParameters(stream, Shape(Layer.S2), Shape(Layer.C3), order,
                    DeltaOf(Layer.C3), Of(Layer.S2), parameters.C3Mask, GradientOf(P.C3Weight, P.C3Bias));
                break;
            case (Layer.C3, BackwardPart.Input):
                kernels.Convolution.BackwardInput(stream, Shape(Layer.S2), Shape(Layer.C3), order,
                    DeltaOf(Layer.C3), parameters.Convolution(P.C3Weight, P.C3Bias, parameters.C3Mask), DeltaOf(Layer.S2));
                break;

            // S2 C1 → S2 (squashed)
            case (Layer.S2, BackwardPart.Squash):
                kernels.Squashing.Backward(stream, Shape(Layer.S2), squash, order, Of(Layer.S2), DeltaOf(Layer.S2));
                break;
            case (Layer.S2, BackwardPart.Parameters):
                kernels.Subsampling.BackwardParameters(stream, Shape(Layer.C1), Shape(Layer.S2), order,
                    DeltaOf(Layer.S2), Of(Layer.C1), SubsamplingGradientOf(P.S2Coefficient, P.S2Bias));
                break;
            case (Layer.S2, BackwardPart.Input):
                kernels.Subsampling.BackwardInput(stream, Shape(Layer.C1), Shape(Layer.S2), order,
                    DeltaOf(Layer.S2), parameters.View(P.S2Coefficient), DeltaOf(Layer.C1));
                break;

            // C1 INPUT → C1 (identity, or squashed); the input needs no gradient.
            case (Layer.C1, BackwardPart.Squash):
                if (convolution != Activation.Identity)
                    kernels.Squashing.Backward(stream, Shape(Layer.C1), convolution, order, Of(Layer.C1), DeltaOf(Layer.C1));
                break;
            case (Layer.C1, BackwardPart.Parameters):
                kernels.Convolution.BackwardParameters(stream, Shape(Layer.Input), Shape(Layer.C1), order,
                    DeltaOf(Layer.C1), Of(Layer.Input), parameters.C1Mask, GradientOf(P.C1Weight, P.C1Bias));
                break;

            default:
                throw new ArgumentOutOfRangeException(nameof(step), step, "not a step of the backward pass");
        }
    }

    public void Dispose()
    {
        MemoryBuffer[] buffers = [Gradients, Labels, Losses, Correct, .. deltas];
        foreach (var b in buffers) b.Dispose();
    }
}

/// <summary>What one launch of the backward pass computes for its layer.</summary>
public enum BackwardPart
{
    /// <summary>OUTPUT only: the loss and its gradient (softmax cross-entropy, or the RBF output's MAP criterion).</summary>
    Loss,

    /// <summary>The layer's gradient through its squashing function, in place.</summary>
    Squash,

    /// <summary>The gradients of the layer's parameters.</summary>
    Parameters,

    /// <summary>The gradient of the layer's input (the previous layer's output).</summary>
    Input,
}

/// <summary>One launch of the backward pass: a part of a layer's backward step.</summary>
public readonly record struct BackwardStep(Layer Layer, BackwardPart Part)
{
    /// <summary>The benchmarks' name: Loss, OutputParameters, F6Squash … C1Parameters.</summary>
    public override string ToString() => Part == BackwardPart.Loss ? "Loss" : $"{Layer}{Part}";
}
