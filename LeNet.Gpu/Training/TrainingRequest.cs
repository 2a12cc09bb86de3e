using System.Globalization;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Training;

/// <summary>
/// What a caller asks of a training run. A setting left null takes the recipe's value where a <see cref="Recipe"/> is
/// named, else the default below (the command line's); an RBF output outside the recipe takes <see cref="RbfDefaults"/>.
/// <see cref="Resolve"/> turns it into the run; <see cref="Resume"/> into the run that continues a checkpoint.
/// </summary>
public sealed record TrainingRequest
{
    /// <summary>Defaults where neither the caller nor a recipe chooses.</summary>
    public const int DefaultEpochs = 20, DefaultBatchSize = 32, DefaultSeed = 1, HessianSamples = 500, ReportEvery = 10;
    public const OptimizerKind DefaultOptimizer = OptimizerKind.Sgd;
    public const LearningRateSchedule DefaultSchedule = LearningRateSchedule.Cosine;
    public const float DefaultMomentum = 0.9f, DefaultWeightDecay = 0f;
    public const WeightInitialization DefaultInitialization = WeightInitialization.InputScaled;
    public const Model.Squashing DefaultSquashing = Model.Squashing.ScaledTanh;
    public const OutputLayer DefaultOutput = OutputLayer.Softmax;
    public const ConvolutionSquashing DefaultConvolutions = ConvolutionSquashing.Linear;

    /// <summary><see cref="PaperRecipe.Name"/>, or null for none.</summary>
    public string? Recipe { get; init; }
    public int? Epochs { get; init; }
    public int? BatchSize { get; init; }
    public OptimizerKind? Optimizer { get; init; }
    public float? LearningRate { get; init; }
    public LearningRateSchedule? Schedule { get; init; }
    public float? Momentum { get; init; }
    public float? WeightDecay { get; init; }
    public int? Seed { get; init; }
    public WeightInitialization? Initialization { get; init; }
    public Model.Squashing? Squashing { get; init; }
    public OutputLayer? Output { get; init; }
    public ConvolutionSquashing? Convolutions { get; init; }
    public double? ValidationFraction { get; init; }
    public float? MapJ { get; init; }
    public float? SdlmMu { get; init; }
    public bool? SdlmMuFollowsRate { get; init; }
    public int? HessianEvery { get; init; }

    /// <summary>Training distortions (no recipe sets them); null for none.</summary>
    public Distortion? Distortion { get; init; }

    /// <summary>Refuses a recipe name this library does not know.</summary>
    /// <exception cref="ArgumentException">It is unknown.</exception>
    public static void CheckRecipe(string? name)
    {
        if (name is not null && name != PaperRecipe.Name)
            throw new ArgumentException($"unknown recipe '{name}' (expected {PaperRecipe.Name})");
    }

    /// <summary>The run this asks for, its options validated.</summary>
    /// <exception cref="ArgumentException">An unknown recipe, or a setting out of range.</exception>
    public TrainingPlan Resolve()
    {
        CheckRecipe(Recipe);
        bool paper = Recipe == PaperRecipe.Name;
        var options = new TrainingOptions
        {
            Initialization = Initialization ?? (paper ? PaperRecipe.Initialization : DefaultInitialization),
            Epochs = Epochs ?? (paper ? PaperRecipe.Passes : DefaultEpochs),
            BatchSize = BatchSize ?? (paper ? PaperRecipe.BatchSize : DefaultBatchSize),
            Optimizer = Optimizer ?? (paper ? PaperRecipe.Optimizer : DefaultOptimizer),
            // Null here is the optimizer's own default (TrainingOptions.DefaultLearningRate).
            LearningRate = LearningRate ?? (paper ? PaperRecipe.Rate : null),
            Schedule = Schedule ?? (paper ? PaperRecipe.Schedule : DefaultSchedule),
            SdlmMu = SdlmMu ?? (paper ? PaperRecipe.Mu : new TrainingOptions().SdlmMu),
            SdlmMuFollowsRate = SdlmMuFollowsRate ?? (paper && PaperRecipe.MuFollowsRate),
            SdlmSamples = HessianSamples,
            SdlmInterval = HessianEvery ?? (paper ? PaperRecipe.HessianEvery : 0),
            MapJ = MapJ ?? TrainingOptions.DefaultMapJ,
            Momentum = Momentum ?? DefaultMomentum,
            WeightDecay = WeightDecay ?? DefaultWeightDecay,
            Seed = Seed ?? DefaultSeed,
            ValidationFraction = ValidationFraction ?? 0,
            ReportEvery = ReportEvery,
            Distortion = Distortion,
        };
        var output = Output ?? (paper ? PaperRecipe.Output : DefaultOutput);
        if (output == OutputLayer.Rbf && !paper)
            options = RbfDefaults.Apply(options, rateGiven: LearningRate is not null, muGiven: SdlmMu is not null, hessianGiven: HessianEvery is not null);
        options.Validate();
        return new TrainingPlan(options, Squashing ?? DefaultSquashing, output,
            Convolutions ?? (paper ? PaperRecipe.Convolutions : DefaultConvolutions), paper);
    }

    /// <summary>
    /// The run that continues <paramref name="checkpoint"/>: the model is the checkpoint's, so its squashing is refused
    /// when it differs, and its convolutions and output layer only when asked for otherwise (the recipe's choice of
    /// convolutions changed after some of its checkpoints were written). The initialisation and whether μ followed the
    /// rate, which a resumed run no longer chooses or whose default once meant otherwise, are the checkpoint's unless
    /// given, so a checkpoint written under an earlier default resumes with the same command. (The trainer checks
    /// every other setting, <see cref="RunSettings.CheckResume"/>.)
    /// </summary>
    /// <exception cref="ResumeMismatchException">The checkpoint's model differs from what this asks for.</exception>
    public TrainingPlan Resume(TrainingCheckpoint checkpoint)
    {
        var plan = Resolve();
        RunSettings.CheckSquashing(checkpoint, plan.Squashing);
        if (Convolutions is { } convolutions) RunSettings.CheckConvolutions(checkpoint, convolutions);
        if (Output is { } output) RunSettings.CheckOutputLayer(checkpoint, output);
        var options = plan.Options;
        var written = RunSettings.Written(checkpoint);
        if (Initialization is null && written.Initialization is { } i) options = options with { Initialization = i };
        if (SdlmMuFollowsRate is null && written.MuFollowsRate is { } m) options = options with { SdlmMuFollowsRate = m };
        var model = checkpoint.Model;
        return plan with { Options = options, Output = model.Output, Convolutions = model.Convolutions };
    }
}

/// <summary>A resolved training run: its options and the model it trains.</summary>
/// <param name="TestEveryEpoch">Whether the test error is measured after every pass (the paper's recipe, its Fig. 5).</param>
public sealed record TrainingPlan(TrainingOptions Options, Squashing Squashing, OutputLayer Output, ConvolutionSquashing Convolutions,
    bool TestEveryEpoch)
{
    /// <summary>The model a fresh run starts from (<paramref name="trainingImages"/>: see <see cref="TrainingOptions.InitialModel"/>).</summary>
    public LeNetModel InitialModel(float[] trainingImages) => Options.InitialModel(Squashing, Output, trainingImages, Convolutions);

    /// <summary>A fresh trainer for this run on <paramref name="device"/>, testing after every epoch where the plan says so.</summary>
    public Trainer CreateTrainer(DeviceKind device, Data.Dataset train, Data.Dataset test) =>
        Tested(Engines.CreateTrainer(device, InitialModel(train.Images), Options, train.Images, train.Labels), test);

    /// <summary>A trainer continuing <paramref name="checkpoint"/> (a plan from <see cref="TrainingRequest.Resume"/>).</summary>
    public Trainer ResumeTrainer(DeviceKind device, TrainingCheckpoint checkpoint, Data.Dataset train, Data.Dataset test) =>
        Tested(Engines.ResumeTrainer(device, checkpoint, Options, train.Images, train.Labels), test);

    private Trainer Tested(Trainer trainer, Data.Dataset test)
    {
        if (TestEveryEpoch) trainer.TestEveryEpoch(test.Images, test.Labels);
        return trainer;
    }

    /// <summary>Writes the recipe and its per-pass test errors into a finished model's metadata.</summary>
    public void Record(IDictionary<string, string> metadata, IEnumerable<EpochResult> history)
    {
        if (!TestEveryEpoch) return;
        metadata["recipe"] = PaperRecipe.Name;
        metadata["test_error_per_pass"] = string.Join(",", history.Select(r => r.TestError!.Value.ToString("0.0000", CultureInfo.InvariantCulture)));
    }
}
