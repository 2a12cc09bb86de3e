using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// Training on an ILGPU accelerator: the dataset, its labels and the epoch's order live on the device, and a
/// step is a sequence of kernel launches on one stream with no host round trip.
/// </summary>
internal sealed class IlgpuTrainingBackend : ITrainingBackend
{
    private readonly LeNetAccelerator accelerator;
    private readonly TrainingOptions options;
    private readonly DeviceParameters parameters;
    private readonly ForwardPass forward;
    private readonly BackwardPass backward;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> dataset, statistics;
    // The optimizer's state, each the parameters' length where the optimizer keeps it (else null): SGD's velocity,
    // Adam's first and second moments, SDLM's Hessian diagonal (estimated before every pass, so no checkpoint holds it).
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? velocity, firstMoment, secondMoment, hessian;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> datasetLabels, order;
    private readonly AcceleratorStream stream;

    public DeviceDescription Device => accelerator.Description;
    public IInferenceEngine CreateInference(LeNetModel model) => new IlgpuInferenceEngine(model, accelerator);

    // For the per-kernel benchmarks, which time each launch of a step alone.
    internal ForwardPass Forward => forward;
    internal BackwardPass Backward => backward;
    internal DeviceParameters DeviceParameters => parameters;
    internal AcceleratorStream Stream => stream;

    public IlgpuTrainingBackend(LeNetAccelerator accelerator, LeNetModel model, TrainingOptions options, float[] images, int[] labels, int n)
    {
        this.accelerator = accelerator;
        this.options = options;
        var a = accelerator.Accelerator;
        stream = a.DefaultStream;
        // Evaluation and the SDLM estimate run in batches larger than a training step when the data allows.
        int capacity = Math.Max(options.BatchSize, Math.Min(n, 1024));
        parameters = new DeviceParameters(a, model);
        forward = new ForwardPass(a, capacity);
        backward = new BackwardPass(a, capacity) { MapJ = options.MapJ };
        dataset = a.Allocate1D(images);
        datasetLabels = a.Allocate1D(labels);
        order = a.Allocate1D<int>(n);
        MemoryBuffer1D<float, Stride1D.Dense>? Kept(OptimizerKind by)
        {
            if (options.Optimizer != by) return null;
            var state = a.Allocate1D<float>(ParameterLayout.Length);
            state.MemSetToZero(stream);
            return state;
        }
        velocity = Kept(OptimizerKind.Sgd);
        firstMoment = Kept(OptimizerKind.Adam);
        secondMoment = Kept(OptimizerKind.Adam);
        hessian = Kept(OptimizerKind.Sdlm);
        statistics = a.Allocate1D<float>(3);
        _ = accelerator.Kernels;
    }

    public void SetOrder(int[] indices, int offset) =>
        order.View.SubView(offset, indices.Length).CopyFromCPU(stream, indices);

    public void TrainBatch(int epoch, int first, int count, float rate, long step) =>
        accelerator.Step($"training step {step + 1} (epoch {epoch + 1}, {count} images from position {first})", () =>
        {
            var k = accelerator.Kernels;
            Gather(epoch, first, count, distort: true);
            forward.Run(k, stream, parameters, count);
            backward.Run(k, stream, parameters, forward, count);
            AccumulateStatistics(count);
            Update(rate, step, count);
        });

    internal void AccumulateStatistics(int count) =>
        accelerator.Kernels.Softmax.AccumulateStatistics(stream, count, backward.Losses.View, backward.Correct.View, statistics.View);

    internal void Gather(int epoch, int first, int count, bool distort)
    {
        var input = accelerator.Kernels.Input;
        var shape = forward.ShapeOf(Layer.Input, count);
        var source = new GatherSource(order.View, dataset.View, datasetLabels.View);
        var target = new GatherTarget(forward.OutputOf(Layer.Input).View, backward.Labels.View);
        if (distort && options.Distortion is { } d)
            input.GatherDistorted(stream, shape, first, d.Args(options.Seed, epoch), source, target);
        else
            input.Gather(stream, shape, first, source, target);
    }

    /// <param name="count">Images in the batch: SDLM's rate is per pattern, so its step is rate × count × the batch mean.</param>
    internal void Update(float rate, long step, int count)
    {
        var optimizer = accelerator.Kernels.Optimizer;
        var p = parameters.Buffer.View;
        var g = backward.Gradients.View;
        switch (options.Optimizer)
        {
            case OptimizerKind.Sgd:
                optimizer.Sgd(stream, new SgdStep(rate, options.Momentum, options.WeightDecay), p, g, velocity!.View, parameters.Trainable.View);
                break;
            case OptimizerKind.Adam:
                var (c1, c2) = options.AdamCorrections(step);
                optimizer.Adam(stream, new AdamStep(rate, options.AdamBeta1, options.AdamBeta2, options.AdamEpsilon, options.WeightDecay, c1, c2),
                    p, g, firstMoment!.View, secondMoment!.View, parameters.Trainable.View);
                break;
            case OptimizerKind.Sdlm:
                optimizer.Sdlm(stream, new SdlmStep(rate * count, options.MuAt(rate), options.WeightDecay), p, g, hessian!.View, parameters.Trainable.View);
                break;
        }
    }

    public void EstimateHessian(int first, int samples) =>
        accelerator.Step($"estimating SDLM's Hessian ({samples} samples from position {first})", () =>
        {
            var k = accelerator.Kernels;
            hessian!.MemSetToZero(stream);
            for (int done = 0; done < samples; done += forward.Capacity)
            {
                int count = Math.Min(forward.Capacity, samples - done);
                Gather(0, first + done, count, distort: false);
                forward.Run(k, stream, parameters, count);
                backward.Run(k, stream, parameters, forward, count, secondOrder: true);
                // Each batch's diagonal is its mean; weighting by its share of the samples makes the estimate their mean.
                AccumulateHessian((float)count / samples);
            }
        });

    /// <summary>Adds <paramref name="scale"/> × this batch's Hessian diagonal (in the gradient buffer) to the estimate.</summary>
    internal void AccumulateHessian(float scale)
    {
        accelerator.Kernels.Optimizer.Accumulate(stream, scale, backward.Gradients.View, hessian!.View);
    }

    public void ResetStatistics() => statistics.MemSetToZero(stream);

    public Score ReadStatistics()
    {
        var s = accelerator.Step("reading the running loss and accuracy back", () => statistics.GetAsArray1D(stream));
        return new Score(s[0] / Math.Max(1, s[2]), s[1] / Math.Max(1, s[2]), (long)s[2]);
    }

    public Score Evaluate(int first, int count) =>
        accelerator.Step($"evaluating {count} images from position {first}", () => EvaluateOnDevice(first, count));

    private Score EvaluateOnDevice(int first, int count)
    {
        var k = accelerator.Kernels;
        ResetStatistics();
        for (int offset = 0; offset < count; offset += forward.Capacity)
        {
            int c = Math.Min(forward.Capacity, count - offset);
            Gather(0, first + offset, c, distort: false);
            forward.Run(k, stream, parameters, c);
            if (parameters.Output == OutputLayer.Rbf)
                backward.Launch(BackwardPass.Loss, k, stream, parameters, forward, c); // losses (and a dF6 not used)
            else
                k.Softmax.CrossEntropyBackward(stream, forward.ShapeOf(Layer.Output, c), GradientOrder.First, forward.Probabilities.View,
                    forward.Predictions.View, backward.Labels.View, forward.OutputOf(Layer.Output).View /* scratch: the logits are not read again */,
                    backward.Losses.View, backward.Correct.View);
            AccumulateStatistics(c);
        }
        return ReadStatistics();
    }

    public float[] Parameters() => accelerator.Step("reading the parameters back", () =>
    {
        stream.Synchronize();
        return parameters.Download();
    });

    public Dictionary<string, float[]> OptimizerState()
    {
        stream.Synchronize();
        return OptimizerStateNames.For(options.Optimizer).ToDictionary(name => name, name => Buffer(name).GetAsArray1D());
    }

    public void LoadOptimizerState(string name, float[] values) => Buffer(name).CopyFromCPU(values);

    private MemoryBuffer1D<float, Stride1D.Dense> Buffer(string name) => (name switch
    {
        OptimizerStateNames.Velocity => velocity,
        OptimizerStateNames.FirstMoment => firstMoment,
        OptimizerStateNames.SecondMoment => secondMoment,
        _ => throw new ArgumentException($"checkpoint holds unknown optimizer state '{name}'"),
    }) ?? throw new ArgumentException($"checkpoint holds optimizer state '{name}', which {options.Optimizer.ToString().ToLowerInvariant()} does not keep");

    public void Dispose()
    {
        foreach (var b in new MemoryBuffer?[] { dataset, datasetLabels, order, velocity, firstMoment, secondMoment, hessian, statistics })
            b?.Dispose();
        parameters.Dispose();
        forward.Dispose();
        backward.Dispose();
    }
}
