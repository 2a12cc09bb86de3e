using System.CommandLine;
using System.Globalization;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Training;

namespace LeNet.Gpu.Cli.Commands;

/// <summary>
/// <c>lenet train</c>'s options, and what they ask of the library (<see cref="TrainingRequest"/>): an option given
/// is passed on, an option left out is null, so the recipe or the library's default chooses (the defaults shown in
/// the help are the library's).
/// </summary>
internal sealed class TrainCommandLine
{
    public readonly Option<string?> Dataset = Common.Dataset(), Data = Common.DataDirectory();
    public readonly Option<string> Device = Common.Device();
    public readonly Option<int> Epochs = new("--epochs") { Description = "passes over the training set", DefaultValueFactory = _ => TrainingRequest.DefaultEpochs };
    public readonly Option<int> Batch = new("--batch-size") { Description = "images per step", DefaultValueFactory = _ => TrainingRequest.DefaultBatchSize };
    public readonly Option<string> Optimizer = new("--optimizer") { Description = "sgd (momentum, weight decay) | adam | sdlm (the paper's stochastic diagonal Levenberg–Marquardt)", DefaultValueFactory = _ => EnumNames.Lower(TrainingRequest.DefaultOptimizer) };
    public readonly Option<float?> Rate = new("--lr") { Description = string.Create(CultureInfo.InvariantCulture, $"base learning rate (default: sgd {TrainingOptions.DefaultLearningRate(OptimizerKind.Sgd)}, adam {TrainingOptions.DefaultLearningRate(OptimizerKind.Adam)}, sdlm {TrainingOptions.DefaultLearningRate(OptimizerKind.Sdlm)} per pattern; with --output-layer rbf: sgd {RbfDefaults.SgdRate}, sdlm {RbfDefaults.SdlmBatchRate:0.#####} per pattern above batch 1)") };
    public readonly Option<string> Schedule = new("--schedule") { Description = "constant | step | cosine", DefaultValueFactory = _ => EnumNames.Lower(TrainingRequest.DefaultSchedule) };
    public readonly Option<float> Momentum = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => TrainingRequest.DefaultMomentum };
    public readonly Option<float> Decay = new("--weight-decay") { Description = "L2 weight decay", DefaultValueFactory = _ => TrainingRequest.DefaultWeightDecay };
    public readonly Option<int> Seed = new("--seed") { Description = "seed of initialisation, shuffling and validation split", DefaultValueFactory = _ => TrainingRequest.DefaultSeed };
    public readonly Option<string> Init = new("--init")
    {
        Description = "initial weights: input-scaled (unit-variance, C1 divided by the training images' RMS) | " +
            "unit-variance (uniform, variance 1/fan-in; biases 0) | paper (uniform ±2.4/fan-in)",
        DefaultValueFactory = _ => TrainingRequest.DefaultInitialization.ToName(),
    };
    public readonly Option<string> Squashing = new("--squashing") { Description = "scaled-tanh (the paper's) | sigmoid", DefaultValueFactory = _ => TrainingRequest.DefaultSquashing.ToName() };
    public readonly Option<double> Validation = new("--validation") { Description = "fraction of the training set held out for validation", DefaultValueFactory = _ => 0 };
    public readonly Option<string> Output = new("--output", "-o") { Description = "where to write the trained model (.safetensors)", DefaultValueFactory = _ => "lenet5.safetensors" };
    public readonly Option<string?> Checkpoint = new("--checkpoint") { Description = "checkpoint written after every epoch (default: OUTPUT.ckpt)" };
    public readonly Option<string?> Resume = new("--resume") { Description = "continue from this checkpoint (same options and data)" };
    public readonly Option<string?> Plot = new("--plot") { Description = "write the loss and accuracy curves to this PNG" };
    public readonly Option<string?> Distort = new("--distort")
    {
        Description = "random affine distortions of the training images each epoch (the paper's Section III-C); " +
            "optional strengths SHIFT,SCALE,SQUEEZE,SHEAR (default 2,0.15,0.15,0.2)",
        Arity = ArgumentArity.ZeroOrOne,
    };
    public readonly Option<bool> Mirror = new("--mirror") { Description = "mirror half the training images left–right each epoch (for clothes; not for digits)" };
    public readonly Option<bool> NoProgress = new("--no-progress") { Description = "plain lines instead of a live progress bar" };
    public readonly Option<string> OutputLayer = new("--output-layer") { Description = "softmax (cross-entropy) | rbf (the paper's Euclidean RBF units and MAP loss)", DefaultValueFactory = _ => TrainingRequest.DefaultOutput.ToName() };
    public readonly Option<string> Convolutions = new("--convolutions")
    {
        Description = $"linear | squashed: whether C1 and C3 squash their sums, as the paper squashes every unit up to F6 (--recipe paper: {PaperRecipe.Convolutions.ToName()})",
        DefaultValueFactory = _ => TrainingRequest.DefaultConvolutions.ToName(),
    };
    public readonly Option<float> MapJ = new("--map-j") { Description = "the MAP criterion's j, for --output-layer rbf", DefaultValueFactory = _ => TrainingOptions.DefaultMapJ };
    public readonly Option<float?> Mu = new("--mu") { Description = $"SDLM's μ (default {new TrainingOptions().SdlmMu}; --recipe paper: {PaperRecipe.Mu})" };
    public readonly Option<bool> MuFollowsRate = new("--mu-follows-rate")
    {
        Description = $"SDLM: scale μ with the learning rate, keeping rate/μ fixed (--recipe paper: {PaperRecipe.MuFollowsRate.ToString().ToLowerInvariant()})",
    };
    public readonly Option<int> HessianEvery = new("--hessian-every") { Description = $"SDLM: re-estimate the Hessian every N patterns as well as before each pass (0: each pass only, the paper's; --recipe paper: {PaperRecipe.HessianEvery})" };
    public readonly Option<string?> Recipe = new("--recipe")
    {
        Description = "paper: the paper's network and training (RBF output, MAP loss, scaled tanh on every unit up to F6, C1 and C3 " +
            "included, its initialisation, SDLM " +
            "at batch 1 with its rate schedule, 20 passes, test error every pass; ours: μ 0.2 following the rate, Hessian every 2,000 " +
            "patterns); options given explicitly still apply",
    };

    public Command Command() => new("train", "Train LeNet-5 on a dataset, with checkpoints, on the chosen device")
    {
        Dataset, Data, Device, Epochs, Batch, Optimizer, Rate, Schedule, Momentum, Decay, Seed, Init, Squashing,
        Validation, Distort, Mirror, Output, Checkpoint, Resume, Plot, NoProgress, OutputLayer, Convolutions, MapJ, Mu, MuFollowsRate, HessianEvery, Recipe,
    };

    /// <summary>What the command line asks for; a name or a combination the library refuses is a usage error (exit 2).</summary>
    public TrainingRequest Request(ParseResult parse)
    {
        // Only what the user gave: the rest is the recipe's or the library's to choose.
        T? Given<T>(Option<T> option) where T : struct =>
            parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option) : null;
        T? GivenName<T>(Option<string> option, Func<string, T> read) where T : struct =>
            parse.GetResult(option) is { Implicit: false } ? read(parse.GetValue(option)!) : null;
        try
        {
            TrainingRequest.CheckRecipe(parse.GetValue(Recipe));
            return new TrainingRequest
            {
                Recipe = parse.GetValue(Recipe),
                Initialization = GivenName(Init, WeightInitializationExtensions.ParseWeightInitialization),
                Optimizer = GivenName(Optimizer, name => EnumNames.Parse<OptimizerKind>(name, "optimizer")),
                Schedule = GivenName(Schedule, name => EnumNames.Parse<LearningRateSchedule>(name, "schedule")),
                Squashing = GivenName(Squashing, SquashingExtensions.ParseSquashing),
                Output = GivenName(OutputLayer, OutputLayerExtensions.ParseOutputLayer),
                Convolutions = GivenName(Convolutions, SquashingExtensions.ParseConvolutionSquashing),
                Epochs = Given(Epochs),
                BatchSize = Given(Batch),
                LearningRate = parse.GetValue(Rate),
                SdlmMu = parse.GetValue(Mu),
                SdlmMuFollowsRate = Given(MuFollowsRate),
                HessianEvery = Given(HessianEvery),
                MapJ = Given(MapJ),
                Momentum = Given(Momentum),
                WeightDecay = Given(Decay),
                Seed = Given(Seed),
                ValidationFraction = Given(Validation),
                Distortion = (parse.GetResult(Distort) is not null, parse.GetValue(Mirror)) switch
                {
                    (true, var m) => ParseDistortion(parse.GetValue(Distort)) with { Mirror = m },
                    (false, true) => new Distortion(0, 0, 0, 0, Mirror: true),
                    _ => null,
                },
            };
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    private static Distortion ParseDistortion(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Distortion.Default;
        // Each element read as every number is (Numbers): "0.05" and "1e-2", never "0 .05" or a grouped "1,000".
        var values = text.Split(',').Select(Numbers.ParseFloat).ToArray();
        if (values.Length != 4 || values.Any(v => v is not >= 0))
            throw new UsageException($"--distort takes four non-negative numbers SHIFT,SCALE,SQUEEZE,SHEAR, got '{text}'");
        return new Distortion(values[0]!.Value, values[1]!.Value, values[2]!.Value, values[3]!.Value);
    }
}
