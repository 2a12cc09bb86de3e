using LeNet.Gpu.Model;

namespace LeNet.Gpu.Engine;

public enum OptimizerKind
{
    Sgd,
    Adam,

    /// <summary>
    /// Stochastic diagonal Levenberg–Marquardt (the paper's Appendix C): each parameter steps by η/(μ + h) times its
    /// gradient, h the Gauss–Newton Hessian diagonal estimated before each pass. η is a rate per pattern as in the
    /// paper, so a batch of B patterns steps by η/(μ + h) times the sum of its B gradients (B × the batch mean):
    /// batch 1 is the paper's per-pattern update, and a pass moves the weights as far at any batch size.
    /// </summary>
    Sdlm,
}

public enum LearningRateSchedule
{
    Constant,
    Step,
    Cosine,

    /// <summary>
    /// The paper's SDLM schedule per pass: 0.0005 for 2 passes, 0.0002 for 3, 0.0001 for 3, 0.00005 for 4, then 0.00001
    /// (scaled by the base rate / 0.0005, so the paper's own base gives exactly these).
    /// </summary>
    Paper,
}

/// <summary>Everything that decides a training run. Same options, data, seed and device kind → same weights.</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 64;
    public int Seed { get; init; } = 1;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>
    /// How <see cref="InitialModel"/> draws a fresh model: unit variance with C1 scaled to the training images by
    /// default (SGD learns from the first step); <see cref="WeightInitialization.Paper"/> for the paper's ±2.4/F_in.
    /// </summary>
    public WeightInitialization Initialization { get; init; } = WeightInitialization.InputScaled;

    /// <summary>
    /// The model a fresh run starts from: drawn from <see cref="Seed"/> by <see cref="Initialization"/>.
    /// <paramref name="trainingImages"/> (32×32 floats, the whole training file: only their pixel statistics are used)
    /// is needed by <see cref="WeightInitialization.InputScaled"/>.
    /// </summary>
    public LeNetModel InitialModel(Squashing squashing = Squashing.ScaledTanh, OutputLayer output = OutputLayer.Softmax,
        float[]? trainingImages = null, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear)
    {
        double? rms = null;
        if (Initialization == WeightInitialization.InputScaled)
            rms = InputStatistics.RootMeanSquare(trainingImages
                ?? throw new ArgumentException("the input-scaled initialisation needs the training images", nameof(trainingImages)));
        return LeNetModel.CreateRandom(Seed, squashing, Initialization, output, rms, convolutions);
    }

    /// <summary>
    /// Base learning rate; null takes the optimizer's default (<see cref="DefaultLearningRate"/>). Gradients are
    /// batch means, so these are larger than the paper's per-sample rates.
    /// </summary>
    public float? LearningRate { get; init; }

    /// <summary>
    /// The rate a run uses: the one given, else SGD 0.02, Adam 0.002, SDLM 0.0005 (the paper's first rate; SDLM's rate
    /// is per pattern, see <see cref="OptimizerKind.Sdlm"/>). SGD's is bounded by the output
    /// layer: once F6 saturates (84 inputs of ±1.7) a softmax layer's curvature allows at most ~0.06 with momentum
    /// 0.9, and 0.05 was seen to diverge there.
    /// </summary>
    public float BaseLearningRate => LearningRate ?? DefaultLearningRate(Optimizer);

    public static float DefaultLearningRate(OptimizerKind optimizer) => optimizer switch
    {
        OptimizerKind.Adam => 0.002f,
        OptimizerKind.Sdlm => 0.0005f,
        _ => 0.02f,
    };
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>Step schedule: multiply the rate by <see cref="StepGamma"/> every <see cref="StepEpochs"/> epochs.</summary>
    public int StepEpochs { get; init; } = 5;
    public float StepGamma { get; init; } = 0.3f;

    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; } = 0f;
    public float AdamBeta1 { get; init; } = 0.9f;
    public float AdamBeta2 { get; init; } = 0.999f;
    public float AdamEpsilon { get; init; } = 1e-8f;

    /// <summary>
    /// SDLM's μ, which keeps steps bounded where the curvature is small. The paper's 0.02 is sized for its RBF output
    /// and MAP loss, whose curvature at F6 is 2 per unit; a softmax's Gauss–Newton curvature at the logits is p(1 − p),
    /// about 0.09 at the start, and with μ = 0.02 one MNIST pass at batch 1 diverged (16.7% test accuracy) where
    /// μ = 0.05 reached 97.2%. So 0.05 by default; the paper recipe sets 0.02.
    /// </summary>
    public float SdlmMu { get; init; } = 0.05f;

    /// <summary>
    /// Whether μ scales with the learning rate (μ_t = μ·η_t/η, see <see cref="MuAt"/>), so that η_t/μ_t, the step of a
    /// parameter whose curvature is small beside μ, stays what it is at the start while the rate schedule shrinks the
    /// steps of the others. Off: μ is constant, as in the paper.
    /// </summary>
    public bool SdlmMuFollowsRate { get; init; }

    /// <summary>SDLM's μ for a step at learning rate <paramref name="rate"/>: <see cref="SdlmMu"/>, or with
    /// <see cref="SdlmMuFollowsRate"/> that times rate/<see cref="BaseLearningRate"/> (μ itself where the rate is 0,
    /// whose step is 0 anyway, so a parameter of zero curvature never divides 0 by 0).</summary>
    public float MuAt(float rate) => SdlmMuFollowsRate && rate > 0 ? SdlmMu * (rate / BaseLearningRate) : SdlmMu;

    /// <summary>Samples the Hessian diagonal is estimated on before each pass (the paper: 500).</summary>
    public int SdlmSamples { get; init; } = 500;

    /// <summary>
    /// SDLM re-estimates the Hessian diagonal every this many training patterns as well as before each pass (0: only
    /// before each pass, as the paper).
    /// </summary>
    public int SdlmInterval { get; init; }

    /// <summary>Whether SDLM estimates the Hessian before the batch of <paramref name="count"/> patterns at <paramref name="first"/>.</summary>
    public bool IsHessianDue(int first, int count) =>
        first == 0 || SdlmInterval > 0 && (first + count - 1) / SdlmInterval != (first - 1) / SdlmInterval;

    /// <summary>
    /// The MAP criterion's j for models with an RBF output: E = y_D + log(e^−j + Σ_i e^−y_i). The paper gives no value.
    /// </summary>
    public float MapJ { get; init; } = DefaultMapJ;

    /// <summary>The default j (see docs/paper-recipe.md for the measurement that chose it).</summary>
    public const float DefaultMapJ = 10f;

    /// <summary>Fraction of the training set held out for validation (chosen from the seed), 0 for none.</summary>
    public double ValidationFraction { get; init; }

    /// <summary>
    /// Random affine distortions of every training image, new each epoch (the paper's Section III-C); null for
    /// none. <see cref="Engine.Distortion.Default"/> is a moderate setting.
    /// </summary>
    public Distortion? Distortion { get; init; }

    /// <summary>Report loss and accuracy every this many batches (0: once per epoch only).</summary>
    public int ReportEvery { get; init; }

    public void Validate()
    {
        if (!Enum.IsDefined(Initialization)) throw new ArgumentException($"unknown weight initialisation {Initialization}");
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1, got {Epochs}");
        if (BatchSize < 1 || BatchSize > 65536) throw new ArgumentException($"batch size must be 1 to 65536, got {BatchSize}");
        if (!(BaseLearningRate > 0) || !float.IsFinite(BaseLearningRate)) throw new ArgumentException($"learning rate must be a positive number, got {BaseLearningRate}");
        // Written as "not inside" so that NaN, which fails every comparison, is refused too.
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {Momentum}");
        if (!(WeightDecay >= 0 && float.IsFinite(WeightDecay))) throw new ArgumentException($"weight decay must be a number ≥ 0, got {WeightDecay}");
        if (!(MapJ >= 0 && float.IsFinite(MapJ))) throw new ArgumentException($"the MAP criterion's j must be a number ≥ 0, got {MapJ}");
        if (!(SdlmMu > 0 && float.IsFinite(SdlmMu))) throw new ArgumentException($"SDLM's μ must be a positive number, got {SdlmMu}");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1)) throw new ArgumentException($"validation fraction must be in [0, 1), got {ValidationFraction}");
        if (!(AdamBeta1 >= 0 && AdamBeta1 < 1) || !(AdamBeta2 >= 0 && AdamBeta2 < 1) || !(AdamEpsilon > 0 && float.IsFinite(AdamEpsilon)))
            throw new ArgumentException($"Adam needs β1, β2 in [0, 1) and ε > 0, got {AdamBeta1}, {AdamBeta2}, {AdamEpsilon}");
        if (SdlmInterval < 0) throw new ArgumentException($"SDLM interval must be 0 (each pass) or a number of patterns, got {SdlmInterval}");
        if (SdlmSamples < 1) throw new ArgumentException($"SDLM samples must be at least 1, got {SdlmSamples}");
        if (StepEpochs < 1) throw new ArgumentException($"step epochs must be at least 1, got {StepEpochs}");
        Distortion?.Validate();
    }

    /// <summary>Adam's bias corrections 1 − β1^t and 1 − β2^t for step t = <paramref name="step"/> + 1.</summary>
    public (float First, float Second) AdamCorrections(long step) =>
        ((float)(1 - Math.Pow(AdamBeta1, step + 1)), (float)(1 - Math.Pow(AdamBeta2, step + 1)));

    /// <summary>The paper's rate in pass <paramref name="epoch"/> (0-based) over its first rate, 0.0005.</summary>
    public static float PaperRateFactor(int epoch) => epoch switch
    {
        < 2 => 1f,
        < 5 => 0.4f,
        < 8 => 0.2f,
        < 12 => 0.1f,
        _ => 0.02f,
    };

    /// <summary>The learning rate for a step: constant, step-wise per epoch, or cosine over all steps.</summary>
    public float RateAt(int epoch, long step, long totalSteps) => Schedule switch
    {
        LearningRateSchedule.Step => BaseLearningRate * MathF.Pow(StepGamma, epoch / StepEpochs),
        LearningRateSchedule.Cosine => BaseLearningRate * 0.5f * (1f + MathF.Cos(MathF.PI * step / Math.Max(1, totalSteps))),
        LearningRateSchedule.Paper => BaseLearningRate * PaperRateFactor(epoch),
        _ => BaseLearningRate,
    };
}

/// <summary>Strength of the training distortions; each parameter is drawn uniformly in ±max per image and epoch.</summary>
/// <param name="Mirror">Mirror left–right with probability ½: for classes that look the same mirrored (clothes), not digits.</param>
public sealed record Distortion(float MaxShift, float MaxScale, float MaxSqueeze, float MaxShear, bool Mirror = false)
{
    internal DistortionArgs Args(int seed, int epoch) =>
        new(seed, epoch, MaxShift, MaxScale, MaxSqueeze, MaxShear, Mirror ? 1 : 0);

    /// <summary>
    /// ±2 pixels, ±15% size, ±15% squeeze, ±0.2 horizontal shear: the paper names the kinds of distortion but
    /// not their strengths; these were picked among a handful of settings by their accuracy on OpenCV's digits.
    /// </summary>
    public static Distortion Default { get; } = new(2f, 0.15f, 0.15f, 0.2f);

    /// <summary>
    /// Strengths that keep the transform a sensible image of the digit: a shift of at most 8 pixels (a 20-pixel digit
    /// in the 32-pixel field), scale and squeeze below 100% (a factor 1 ± s must stay positive), shear at most 1.
    /// </summary>
    public void Validate()
    {
        if (!(MaxShift >= 0 && MaxShift <= 8) || !(MaxScale >= 0 && MaxScale < 1) || !(MaxSqueeze >= 0 && MaxSqueeze < 1)
            || !(MaxShear >= 0 && MaxShear <= 1))
            throw new ArgumentException(
                $"distortion strengths must be SHIFT 0–8 pixels, SCALE and SQUEEZE in [0, 1), SHEAR 0–1; got {MaxShift},{MaxScale},{MaxSqueeze},{MaxShear}");
    }
}

/// <summary>Loss and accuracy over some images.</summary>
public readonly record struct Score(double Loss, double Accuracy, long Images);

/// <summary>What one finished epoch measured.</summary>
public sealed record EpochResult(int Epoch, Score Train, Score? Validation, double ImagesPerSecond, TimeSpan Elapsed, float LearningRate)
{
    /// <summary>The test error after this epoch, where the trainer measures it (<see cref="Trainer.TestEveryEpoch"/>).</summary>
    public double? TestError { get; init; }
}

/// <summary>Progress inside an epoch, every <see cref="TrainingOptions.ReportEvery"/> batches.</summary>
public sealed record BatchProgress(int Epoch, int Batch, int Batches, Score Running, double ImagesPerSecond);
