using System.Diagnostics;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Engine;

/// <summary>
/// Where a run stands after a whole number of epochs: enough to continue it to the same weights an
/// uninterrupted run reaches (shuffling and the schedule depend only on the seed, the epoch and the step).
/// </summary>
public sealed record TrainingCheckpoint(LeNetModel Model, int EpochsCompleted, long Steps,
    IReadOnlyDictionary<string, float[]> OptimizerState);

/// <summary>
/// The device side of training, one implementation per kind of engine: it holds the dataset, the parameters
/// and the optimizer state, and runs whole steps. <see cref="Trainer"/> owns the loop around it.
/// </summary>
internal interface ITrainingBackend : IDisposable
{
    DeviceDescription Device { get; }

    /// <summary>Writes <paramref name="indices"/> into the order at <paramref name="offset"/> (train, then validation).</summary>
    void SetOrder(int[] indices, int offset);

    /// <summary>One step on order[first .. first+count): gather (distorted if asked), forward, backward, statistics, update.</summary>
    void TrainBatch(int epoch, int first, int count, float rate, long step);

    /// <summary>SDLM: the Gauss–Newton Hessian diagonal averaged over order[first .. first+samples).</summary>
    void EstimateHessian(int first, int samples);

    void ResetStatistics();
    Score ReadStatistics();

    /// <summary>Loss and accuracy of order[first .. first+count) without training (statistics reset first).</summary>
    Score Evaluate(int first, int count);

    /// <summary>Inference of <paramref name="model"/> on this backend's engine (the same device), for use while it lives.</summary>
    IInferenceEngine CreateInference(LeNetModel model);

    float[] Parameters();
    Dictionary<string, float[]> OptimizerState();
    void LoadOptimizerState(string name, float[] values);
}

/// <summary>
/// Trains a LeNet-5. The training set goes to the engine once; each batch is gathered, run forward and backward
/// and applied there; the host sees loss and accuracy only when it asks (every
/// <see cref="TrainingOptions.ReportEvery"/> batches and per epoch). Every buffer is allocated once per run.
/// Every sum runs in a fixed order, so the same seed, data and device kind give the same weights.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly ITrainingBackend backend;
    private readonly TrainingOptions options;
    private readonly Squashing squashing;
    private readonly OutputLayer output;
    private readonly ConvolutionSquashing convolutions;
    private readonly int[] trainIndices, validationIndices;
    private readonly DivergenceMonitor divergence = new();
    // What the factory opened for this trainer alone (an ILGPU accelerator), disposed with it.
    private IDisposable? owned;

    public int EpochsCompleted { get; private set; }
    public long Steps { get; private set; }
    public int TrainCount => trainIndices.Length;
    public int ValidationCount => validationIndices.Length;
    public int BatchesPerEpoch => (trainIndices.Length + options.BatchSize - 1) / options.BatchSize;
    public DeviceDescription Device => backend.Device;

    /// <summary>This run's settings (<see cref="RunSettings"/>): recorded in every checkpoint, checked on resume.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>
    /// Trains on the backend <paramref name="create"/> builds for the dataset's image count (<see cref="Engines"/> chooses
    /// the engine: <see cref="Engines.CreateTrainer(DeviceKind, LeNetModel, TrainingOptions, float[], int[])"/>).
    /// </summary>
    /// <param name="images">Training images [n][32·32] in the model's input scale.</param>
    /// <param name="labels">Their classes, 0–9.</param>
    internal Trainer(LeNetModel model, TrainingOptions options, float[] images, int[] labels, Func<int, ITrainingBackend> create)
    {
        options.Validate();
        int n = CheckData(images, labels);
        this.options = options;
        squashing = model.Squashing;
        output = model.Output;
        convolutions = model.Convolutions;
        Settings = RunSettings.Of(options, squashing, output, images, labels, convolutions);
        (trainIndices, validationIndices) = Split(n, options.ValidationFraction, options.Seed);
        if (trainIndices.Length == 0) throw new ArgumentException("the validation split leaves no training images");
        backend = create(n);
        if (validationIndices.Length > 0) backend.SetOrder(validationIndices, trainIndices.Length);
    }

    private static int CheckData(float[] images, int[] labels)
    {
        if (images.Length == 0 || images.Length % Architecture.InputLength != 0)
            throw new ArgumentException($"training images hold {images.Length} floats, not a whole, non-zero number of 32×32 images");
        int n = images.Length / Architecture.InputLength;
        if (labels.Length != n) throw new ArgumentException($"{n} training images but {labels.Length} labels");
        for (int i = 0; i < n; i++)
            if ((uint)labels[i] >= Architecture.Classes)
                throw new ArgumentException($"label {labels[i]} of image {i} is not a class 0–9");
        return n;
    }

    /// <summary>
    /// Continues a run from a checkpoint on a fresh <paramref name="trainer"/> built on the checkpoint's model; the options
    /// and data must be those of the original run (<see cref="RunSettings.CheckResume"/>: <see cref="ResumeMismatchException"/>
    /// otherwise). A trainer whose checkpoint is refused is disposed, not left holding its engine's buffers.
    /// </summary>
    internal static Trainer Restored(Trainer trainer, TrainingCheckpoint checkpoint)
    {
        try { return trainer.Restore(checkpoint); }
        catch { trainer.Dispose(); throw; }
    }

    /// <summary>Puts a fresh trainer, built on the checkpoint's model, where the checkpoint left its run.</summary>
    private Trainer Restore(TrainingCheckpoint checkpoint)
    {
        RunSettings.CheckResume(checkpoint, Settings);
        // Checkpoints are taken at epoch ends: a step count that is not a whole number of this run's epochs means
        // another run (or an edit) wrote it, and resuming would follow another schedule.
        long expected = (long)checkpoint.EpochsCompleted * BatchesPerEpoch;
        if (checkpoint.Steps != expected)
            throw new ArgumentException($"the checkpoint records {checkpoint.Steps} steps after {checkpoint.EpochsCompleted} epochs, but this run takes " +
                $"{BatchesPerEpoch} steps an epoch ({expected} in all): it was written by another run or altered");
        foreach (var name in OptimizerStateNames.For(options.Optimizer))
            if (!checkpoint.OptimizerState.ContainsKey(name))
                throw new ArgumentException($"the checkpoint lacks optimizer state '{name}' that {options.Optimizer.ToString().ToLowerInvariant()} needs to continue");
        EpochsCompleted = checkpoint.EpochsCompleted;
        Steps = checkpoint.Steps;
        foreach (var (name, values) in checkpoint.OptimizerState)
        {
            if (values.Length != ParameterLayout.Length)
                throw new ArgumentException($"optimizer state '{name}' holds {values.Length} floats, expected {ParameterLayout.Length}");
            backend.LoadOptimizerState(name, values);
        }
        return this;
    }

    /// <summary>The parameters as they are now.</summary>
    public LeNetModel Model() => new(squashing, backend.Parameters(), output, convolutions);

    /// <summary>Where the run stands, with its <see cref="Settings"/> in the model's metadata.</summary>
    public TrainingCheckpoint Checkpoint()
    {
        var model = Model();
        foreach (var (key, value) in Settings) model.Metadata[key] = value;
        return new(model, EpochsCompleted, Steps, backend.OptimizerState());
    }

    /// <summary>Inference of <paramref name="model"/> on this trainer's engine (the same accelerator), for use while the trainer lives.</summary>
    public IInferenceEngine CreateInference(LeNetModel model) => backend.CreateInference(model);

    private (float[] Images, int[] Labels)? testSet;

    /// <summary>
    /// Measures the error on these test images after every epoch, on this trainer's engine, into
    /// <see cref="EpochResult.TestError"/> (the paper's Fig. 5 does so after every pass).
    /// </summary>
    public void TestEveryEpoch(float[] images, int[] labels) => testSet = (images, labels);

    /// <summary>How many of <paramref name="images"/> the model as it is now classifies as <paramref name="labels"/> say, on this trainer's engine.</summary>
    public int CountCorrect(float[] images, int[] labels)
    {
        using var engine = CreateInference(Model());
        return engine.Predict(images).Classes.Where((c, i) => c == labels[i]).Count();
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
            backend.SetOrder(Shuffle(trainIndices, options.Seed, epoch), 0);

            backend.ResetStatistics();
            float rate = options.RateAt(epoch, Steps, totalSteps);
            for (int batch = 0, first = 0; first < trainIndices.Length; batch++, first += options.BatchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                int count = Math.Min(options.BatchSize, trainIndices.Length - first);
                if (options.Optimizer == OptimizerKind.Sdlm && options.IsHessianDue(first, count)) EstimateHessian(first);
                rate = options.RateAt(epoch, Steps, totalSteps);
                backend.TrainBatch(epoch, first, count, rate, Steps);
                Steps++;
                if (progress != null && options.ReportEvery > 0 && (batch + 1) % options.ReportEvery == 0)
                {
                    var running = backend.ReadStatistics();
                    progress.Report(new BatchProgress(epoch, batch + 1, BatchesPerEpoch, running, running.Images / clock.Elapsed.TotalSeconds));
                }
            }
            var train = backend.ReadStatistics();
            // Non-finite weights (or a loss that shows them, or optimizer state that will spread them) are useless: stop
            // before anyone checkpoints or saves them. The loss is measured before each step, so the last step's
            // overflow shows only in the weights.
            var parameters = backend.Parameters(); // one copy from the device serves both checks
            if (!double.IsFinite(train.Loss) || !Array.TrueForAll(parameters, float.IsFinite)
                || !backend.OptimizerState().Values.All(state => Array.TrueForAll(state, float.IsFinite)))
                throw new TrainingDivergedException(epoch + 1, train.Loss);
            if (divergence.Observe(train, parameters) is { } reason)
                throw new TrainingDivergedException(epoch + 1, reason);
            double seconds = clock.Elapsed.TotalSeconds;
            Score? validation = validationIndices.Length > 0 ? backend.Evaluate(trainIndices.Length, validationIndices.Length) : null;
            EpochsCompleted = epoch + 1;
            var result = new EpochResult(epoch + 1, train, validation, train.Images / seconds, clock.Elapsed, rate)
            {
                TestError = testSet is var (testImages, testLabels) ? 1.0 - (double)CountCorrect(testImages, testLabels) / testLabels.Length : null,
            };
            results.Add(result);
            onEpoch?.Invoke(result);
        }
        return results;
    }

    /// <summary>SDLM's estimate on the samples the pass is about to train on, starting at <paramref name="first"/>.</summary>
    private void EstimateHessian(int first)
    {
        int samples = Math.Min(options.SdlmSamples, trainIndices.Length);
        backend.EstimateHessian(Math.Min(first, trainIndices.Length - samples), samples);
    }

    /// <summary>
    /// One finished training step on the next batch of epoch 0's order at the base learning rate, outside
    /// any epoch: for benchmarks and tests that time or inspect single steps.
    /// </summary>
    public void StepOnce()
    {
        if (Steps == 0) backend.SetOrder(Shuffle(trainIndices, options.Seed, 0), 0);
        if (Steps == 0 && options.Optimizer == OptimizerKind.Sdlm) EstimateHessian(0);
        int first = (int)(Steps * options.BatchSize % trainIndices.Length);
        backend.TrainBatch(0, first, Math.Min(options.BatchSize, trainIndices.Length - first), options.BaseLearningRate, Steps);
        Steps++;
        backend.ReadStatistics(); // waits for the step to finish
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

    /// <summary>
    /// A trainer that <paramref name="create"/> builds on <paramref name="resource"/>, opened for it alone: disposed with
    /// the trainer, or at once when building it fails.
    /// </summary>
    internal static Trainer Owning<T>(T resource, Func<T, Trainer> create) where T : IDisposable
    {
        try
        {
            var trainer = create(resource);
            trainer.owned = resource;
            return trainer;
        }
        catch
        {
            resource.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        backend.Dispose();
        owned?.Dispose();
    }
}

/// <summary>
/// The loss or the weights became NaN or infinite during an epoch, or the run diverged without overflowing
/// (<see cref="DivergenceMonitor"/>): the weights are unusable, and nothing of that epoch is kept.
/// </summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    public TrainingDivergedException(int epoch, double loss) : this(epoch, $"the weights overflowed (mean loss {loss})") { }

    public TrainingDivergedException(int epoch, string reason)
        : base($"training diverged in epoch {epoch}: {reason}; nothing of that epoch was saved or checkpointed: " +
            "lower the learning rate, momentum or weight decay")
    {
        Epoch = epoch;
    }

    public int Epoch { get; }
}
