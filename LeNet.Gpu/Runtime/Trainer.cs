using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Runtime;

/// <summary>
/// Where a run stands after a whole number of epochs: enough to continue it to the same weights an
/// uninterrupted run reaches (shuffling and the schedule depend only on the seed, the epoch and the step).
/// </summary>
public sealed record TrainingCheckpoint(LeNetModel Model, int EpochsCompleted, long Steps,
    IReadOnlyDictionary<string, float[]> OptimizerState);

/// <summary>
/// Trains a LeNet-5 on one accelerator. The whole training set goes to the device once; each batch is gathered,
/// run forward and backward and applied on the device; the host sees loss and accuracy only when it asks
/// (every <see cref="TrainingOptions.ReportEvery"/> batches and per epoch). Every buffer is allocated once per
/// run. Every kernel sums in a fixed order, so the same seed, data and device kind give the same weights.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly LeNetAccelerator accelerator;
    private readonly TrainingOptions options;
    private readonly Squashing squashing;
    private readonly DeviceParameters parameters;
    private readonly ForwardPass forward;
    private readonly BackwardPass backward;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> dataset, stateA, stateB, statistics;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> datasetLabels, order;
    private readonly int[] trainIndices, validationIndices;
    private readonly AcceleratorStream stream;

    public int EpochsCompleted { get; private set; }
    public long Steps { get; private set; }
    public int TrainCount => trainIndices.Length;
    public int ValidationCount => validationIndices.Length;
    public int BatchesPerEpoch => (trainIndices.Length + options.BatchSize - 1) / options.BatchSize;
    public DeviceDescription Device => accelerator.Description;

    /// <param name="images">Training images [n][32·32] in the model's input scale.</param>
    /// <param name="labels">Their classes, 0–9.</param>
    public Trainer(LeNetAccelerator accelerator, LeNetModel model, TrainingOptions options, float[] images, int[] labels)
    {
        options.Validate();
        if (images.Length == 0 || images.Length % Architecture.InputLength != 0)
            throw new ArgumentException($"training images hold {images.Length} floats, not a whole, non-zero number of 32×32 images");
        int n = images.Length / Architecture.InputLength;
        if (labels.Length != n) throw new ArgumentException($"{n} training images but {labels.Length} labels");
        for (int i = 0; i < n; i++)
            if ((uint)labels[i] >= Architecture.Classes)
                throw new ArgumentException($"label {labels[i]} of image {i} is not a class 0–9");

        this.accelerator = accelerator;
        this.options = options;
        squashing = model.Squashing;
        (trainIndices, validationIndices) = Split(n, options.ValidationFraction, options.Seed);
        if (trainIndices.Length == 0) throw new ArgumentException("the validation split leaves no training images");

        var a = accelerator.Accelerator;
        stream = a.DefaultStream;
        int capacity = options.Optimizer == OptimizerKind.Sdlm
            ? Math.Max(options.BatchSize, Math.Min(options.SdlmSamples, 256))
            : options.BatchSize;
        capacity = Math.Max(capacity, Math.Min(n, 1024));
        parameters = new DeviceParameters(a, model);
        forward = new ForwardPass(a, capacity);
        backward = new BackwardPass(a, capacity);
        dataset = a.Allocate1D(images);
        datasetLabels = a.Allocate1D(labels);
        order = a.Allocate1D<int>(n);
        if (validationIndices.Length > 0)
            order.View.SubView(trainIndices.Length, validationIndices.Length).CopyFromCPU(stream, validationIndices);
        // SGD: velocity; Adam: first and second moments; SDLM: Hessian diagonal (stateA) and its batch estimate.
        stateA = a.Allocate1D<float>(ParameterLayout.Length);
        stateB = a.Allocate1D<float>(ParameterLayout.Length);
        stateA.MemSetToZero(stream);
        stateB.MemSetToZero(stream);
        statistics = a.Allocate1D<float>(3);
        _ = accelerator.Kernels;
    }

    /// <summary>Continues a run from a checkpoint; the options and data must be those of the original run.</summary>
    public static Trainer Resume(LeNetAccelerator accelerator, TrainingCheckpoint checkpoint, TrainingOptions options,
        float[] images, int[] labels)
    {
        var trainer = new Trainer(accelerator, checkpoint.Model, options, images, labels);
        trainer.EpochsCompleted = checkpoint.EpochsCompleted;
        trainer.Steps = checkpoint.Steps;
        foreach (var (name, values) in checkpoint.OptimizerState)
        {
            var target = name switch { "optimizer.a" => trainer.stateA, "optimizer.b" => trainer.stateB, _ => null }
                ?? throw new ArgumentException($"checkpoint holds unknown optimizer state '{name}'");
            if (values.Length != ParameterLayout.Length)
                throw new ArgumentException($"optimizer state '{name}' holds {values.Length} floats, expected {ParameterLayout.Length}");
            target.CopyFromCPU(values);
        }
        return trainer;
    }

    /// <summary>The parameters as they are on the device now.</summary>
    public LeNetModel Model()
    {
        stream.Synchronize();
        return new LeNetModel(squashing, parameters.Download());
    }

    public TrainingCheckpoint Checkpoint()
    {
        stream.Synchronize();
        var state = new Dictionary<string, float[]>();
        if (options.Optimizer != OptimizerKind.Sdlm) // SDLM re-estimates its Hessian before every pass
        {
            state["optimizer.a"] = stateA.GetAsArray1D();
            if (options.Optimizer == OptimizerKind.Adam) state["optimizer.b"] = stateB.GetAsArray1D();
        }
        return new TrainingCheckpoint(Model(), EpochsCompleted, Steps, state);
    }

    /// <summary>
    /// Trains the remaining epochs. <paramref name="onEpoch"/> runs after each (a checkpoint taken there is
    /// complete). Cancellation stops at a batch boundary with <see cref="OperationCanceledException"/>.
    /// </summary>
    public IReadOnlyList<EpochResult> Run(Action<EpochResult>? onEpoch = null, IProgress<BatchProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        var results = new List<EpochResult>();
        long totalSteps = (long)options.Epochs * BatchesPerEpoch;
        while (EpochsCompleted < options.Epochs)
        {
            int epoch = EpochsCompleted;
            var clock = Stopwatch.StartNew();
            order.View.SubView(0, trainIndices.Length).CopyFromCPU(stream, Shuffle(trainIndices, options.Seed, epoch));
            if (options.Optimizer == OptimizerKind.Sdlm) EstimateHessian();

            statistics.MemSetToZero(stream);
            float rate = options.RateAt(epoch, Steps, totalSteps);
            for (int batch = 0, first = 0; first < trainIndices.Length; batch++, first += options.BatchSize)
            {
                if (cancellation.IsCancellationRequested)
                {
                    stream.Synchronize();
                    cancellation.ThrowIfCancellationRequested();
                }
                int count = Math.Min(options.BatchSize, trainIndices.Length - first);
                rate = options.RateAt(epoch, Steps, totalSteps);
                TrainBatch(epoch, first, count, rate);
                if (progress != null && options.ReportEvery > 0 && (batch + 1) % options.ReportEvery == 0)
                {
                    var running = ReadStatistics();
                    progress.Report(new BatchProgress(epoch, batch + 1, BatchesPerEpoch, running, running.Images / clock.Elapsed.TotalSeconds));
                }
            }
            var train = ReadStatistics();
            double seconds = clock.Elapsed.TotalSeconds;
            Score? validation = validationIndices.Length > 0 ? Evaluate(trainIndices.Length, validationIndices.Length) : null;
            EpochsCompleted = epoch + 1;
            var result = new EpochResult(epoch + 1, train, validation, train.Images / seconds, clock.Elapsed, rate);
            results.Add(result);
            onEpoch?.Invoke(result);
        }
        return results;
    }

    /// <summary>
    /// One synchronised training step on the next batch of epoch 0's order at the base learning rate, outside
    /// any epoch: for benchmarks and tests that time or inspect single steps.
    /// </summary>
    public void StepOnce()
    {
        if (Steps == 0) order.View.SubView(0, trainIndices.Length).CopyFromCPU(stream, Shuffle(trainIndices, options.Seed, 0));
        int first = (int)(Steps * options.BatchSize % trainIndices.Length);
        TrainBatch(0, first, Math.Min(options.BatchSize, trainIndices.Length - first), options.BaseLearningRate);
        stream.Synchronize();
    }

    /// <summary>One optimisation step on order[first .. first+count): gather, forward, backward, statistics, update.</summary>
    private void TrainBatch(int epoch, int first, int count, float rate)
    {
        var k = accelerator.Kernels;
        if (options.Distortion is { } d)
            k.GatherDistorted(stream, count, forward.Capacity, first,
                new DistortionArgs(options.Seed, epoch, d.MaxShift, d.MaxScale, d.MaxSqueeze, d.MaxShear),
                order.View, dataset.View, datasetLabels.View, forward.Input.View, backward.Labels.View);
        else
            k.Gather(stream, count, forward.Capacity, first, order.View, dataset.View, datasetLabels.View, forward.Input.View, backward.Labels.View);
        forward.Run(k, stream, parameters, count);
        backward.Run(k, stream, parameters, forward, count);
        k.AccumulateStatistics(stream, 1, count, backward.Losses.View, backward.Correct.View, statistics.View);
        Update(rate);
        Steps++;
    }

    private void Update(float rate)
    {
        var k = accelerator.Kernels;
        int n = ParameterLayout.Length, threads = k.ThreadsFor(n);
        var p = parameters.Buffer.View;
        var g = backward.Gradients.View;
        switch (options.Optimizer)
        {
            case OptimizerKind.Sgd:
                k.Sgd(stream, threads, n, threads, rate, options.Momentum, options.WeightDecay, p, g, stateA.View, parameters.Trainable.View);
                break;
            case OptimizerKind.Adam:
                long t = Steps + 1;
                float c1 = (float)(1 - Math.Pow(options.AdamBeta1, t)), c2 = (float)(1 - Math.Pow(options.AdamBeta2, t));
                k.Adam(stream, threads, n, threads, rate, options.AdamBeta1, options.AdamBeta2, options.AdamEpsilon, options.WeightDecay,
                    c1, c2, p, g, stateA.View, stateB.View, parameters.Trainable.View);
                break;
            case OptimizerKind.Sdlm:
                k.Sdlm(stream, threads, n, threads, rate, options.SdlmMu, options.WeightDecay, p, g, stateA.View, parameters.Trainable.View);
                break;
        }
    }

    /// <summary>
    /// The paper's Hessian estimate: the Gauss–Newton diagonal averaged over the first
    /// <see cref="TrainingOptions.SdlmSamples"/> images of this epoch's order, into stateA.
    /// </summary>
    private void EstimateHessian()
    {
        var k = accelerator.Kernels;
        int samples = Math.Min(options.SdlmSamples, trainIndices.Length);
        int batches = (samples + forward.Capacity - 1) / forward.Capacity;
        stateA.MemSetToZero(stream);
        for (int first = 0; first < samples; first += forward.Capacity)
        {
            int count = Math.Min(forward.Capacity, samples - first);
            k.Gather(stream, count, forward.Capacity, first, order.View, dataset.View, datasetLabels.View, forward.Input.View, backward.Labels.View);
            forward.Run(k, stream, parameters, count);
            backward.Run(k, stream, parameters, forward, count, secondOrder: true);
            k.Accumulate(stream, k.ThreadsFor(ParameterLayout.Length), ParameterLayout.Length, k.ThreadsFor(ParameterLayout.Length), 1f / batches, backward.Gradients.View, stateA.View);
        }
    }

    /// <summary>Loss and accuracy of order[first .. first+count) without training.</summary>
    private Score Evaluate(int first, int count)
    {
        var k = accelerator.Kernels;
        statistics.MemSetToZero(stream);
        for (int offset = 0; offset < count; offset += forward.Capacity)
        {
            int c = Math.Min(forward.Capacity, count - offset);
            k.Gather(stream, c, forward.Capacity, first + offset, order.View, dataset.View, datasetLabels.View, forward.Input.View, backward.Labels.View);
            forward.Run(k, stream, parameters, c);
            k.CrossEntropyBackward(stream, c, c, forward.Capacity, 0, forward.Probabilities.View, forward.Predictions.View,
                backward.Labels.View, forward.Logits.View /* scratch: not read again */, backward.Losses.View, backward.Correct.View);
            k.AccumulateStatistics(stream, 1, c, backward.Losses.View, backward.Correct.View, statistics.View);
        }
        return ReadStatistics();
    }

    private Score ReadStatistics()
    {
        var s = statistics.GetAsArray1D(stream);
        return new Score(s[0] / Math.Max(1, s[2]), s[1] / Math.Max(1, s[2]), (long)s[2]);
    }

    /// <summary>The training order of one epoch: a Fisher–Yates shuffle seeded by (seed, epoch) alone.</summary>
    public static int[] Shuffle(int[] indices, int seed, int epoch)
    {
        var result = (int[])indices.Clone();
        var random = new Random(unchecked(seed * 1_000_003 + epoch));
        for (int i = result.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (result[i], result[j]) = (result[j], result[i]);
        }
        return result;
    }

    /// <summary>Train and validation indices, the validation images chosen from the seed.</summary>
    public static (int[] Train, int[] Validation) Split(int n, double validationFraction, int seed)
    {
        int validation = (int)Math.Round(n * validationFraction);
        var all = Shuffle(Enumerable.Range(0, n).ToArray(), seed, -1);
        var val = all[..validation];
        Array.Sort(val);
        var train = all[validation..];
        Array.Sort(train);
        return (train, val);
    }

    public void Dispose()
    {
        foreach (var b in new MemoryBuffer[] { dataset, datasetLabels, order, stateA, stateB, statistics })
            b.Dispose();
        parameters.Dispose();
        forward.Dispose();
        backward.Dispose();
    }
}
