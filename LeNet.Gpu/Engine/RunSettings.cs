using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Engine;

/// <summary>
/// What a resumed run must share with the run that wrote its checkpoint to reach the same weights: everything but the
/// number of epochs (which a resume may extend), the training data by content included. Every <see cref="Trainer"/>
/// records them in its checkpoints' metadata (under <see cref="Prefix"/>) and checks them when it resumes, so a
/// library caller's resume is checked as the command line's is.
/// </summary>
public static class RunSettings
{
    public const string Prefix = "run.";

    /// <summary>
    /// The settings of <paramref name="options"/> as metadata, spelled as the model file's provenance spells them (one
    /// key and one format per setting: the provenance records a subset of these, the checkpoint all of them).
    /// </summary>
    public static Dictionary<string, string> OfOptions(TrainingOptions options)
    {
        string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        return new Dictionary<string, string>
        {
            ["seed"] = I(options.Seed),
            ["initialization"] = options.Initialization.ToName(),
            ["optimizer"] = options.Optimizer.ToString().ToLowerInvariant(),
            ["batch_size"] = I(options.BatchSize),
            ["learning_rate"] = F(options.BaseLearningRate),
            ["schedule"] = options.Schedule.ToString().ToLowerInvariant(),
            ["momentum"] = F(options.Momentum),
            ["weight_decay"] = F(options.WeightDecay),
            ["validation"] = options.ValidationFraction.ToString("R", CultureInfo.InvariantCulture),
            ["distortion"] = options.Distortion?.ToString() ?? "none",
            ["map_j"] = F(options.MapJ),
            ["sdlm_mu"] = F(options.SdlmMu),
            // True only under SDLM, where μ is used, so runs of other optimizers match whatever the option said.
            ["sdlm_mu_follows_rate"] = options.Optimizer == OptimizerKind.Sdlm && options.SdlmMuFollowsRate ? "true" : "false",
            ["sdlm_hessian_samples"] = I(options.SdlmSamples),
            ["sdlm_hessian_every"] = I(options.SdlmInterval),
        };
    }

    /// <summary>
    /// Settings <paramref name="checkpoint"/> records that a resume need not repeat: its initialisation and, for SDLM,
    /// whether μ followed the rate (null where it does not record them, as checkpoints of older versions may not).
    /// </summary>
    public static (WeightInitialization? Initialization, bool? MuFollowsRate) Written(TrainingCheckpoint checkpoint)
    {
        var recorded = Recorded(checkpoint.Model.Metadata);
        WeightInitialization? initialization = null;
        if (recorded.TryGetValue("initialization", out var i))
        {
            try { initialization = WeightInitializationExtensions.ParseWeightInitialization(i); }
            catch (ArgumentException) { } // an unknown name is then refused by the check, with both names in the message
        }
        bool? follows = recorded.TryGetValue("sdlm_mu_follows_rate", out var f) ? f == "true" : null;
        return (initialization, follows);
    }

    /// <summary>The settings of a run of <paramref name="options"/> with <paramref name="squashing"/>, <paramref name="output"/>
    /// and <paramref name="convolutions"/> on these training images, as checkpoint metadata (keys under <see cref="Prefix"/>).</summary>
    public static Dictionary<string, string> Of(TrainingOptions options, Squashing squashing, OutputLayer output, float[] images, int[] labels,
        ConvolutionSquashing convolutions = ConvolutionSquashing.Linear)
    {
        var settings = OfOptions(options);
        settings["data"] = $"{labels.Length} training images, SHA-256 {DataDigest(images, labels)}";
        settings["squashing"] = squashing.ToName();
        settings["convolutions"] = convolutions.ToName();
        settings["output_layer"] = output.ToName();
        return settings.ToDictionary(kv => Prefix + kv.Key, kv => kv.Value);
    }

    /// <summary>How "sdlm mu" read in checkpoints written before the settings took the provenance's spelling, where μ followed the rate.</summary>
    private const string OldMuFollowsRateSuffix = " × rate/base rate";

    /// <summary>
    /// The settings a checkpoint's <paramref name="metadata"/> records, keys without <see cref="Prefix"/>, in today's
    /// spelling: older checkpoints spelled them with spaces ("batch size"), named the Hessian interval "hessian every"
    /// and wrote whether μ followed the rate as a suffix of "sdlm mu".
    /// </summary>
    public static Dictionary<string, string> Recorded(IReadOnlyDictionary<string, string> metadata)
    {
        var recorded = new Dictionary<string, string>();
        foreach (var (prefixed, value) in metadata)
        {
            if (!prefixed.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            string key = prefixed[Prefix.Length..];
            if (!key.Contains(' ')) { recorded[key] = value; continue; }
            switch (key)
            {
                case "hessian every": recorded["sdlm_hessian_every"] = value; break;
                case "sdlm mu":
                    bool follows = value.EndsWith(OldMuFollowsRateSuffix, StringComparison.Ordinal);
                    recorded["sdlm_mu"] = follows ? value[..^OldMuFollowsRateSuffix.Length] : value;
                    recorded["sdlm_mu_follows_rate"] = follows ? "true" : "false";
                    break;
                default: recorded[key.Replace(' ', '_')] = value; break;
            }
        }
        return recorded;
    }

    /// <summary>The training set by content, not by where it was found (a moved, copied or linked folder is the same
    /// data): the first 16 hex digits of the SHA-256 of its images' and labels' bytes.</summary>
    public static string DataDigest(float[] images, int[] labels)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(MemoryMarshal.AsBytes(images.AsSpan()));
        hash.AppendData(MemoryMarshal.AsBytes(labels.AsSpan()));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>Refuses to resume <paramref name="checkpoint"/> with another squashing function than its model's.</summary>
    /// <exception cref="ResumeMismatchException">They differ.</exception>
    public static void CheckSquashing(TrainingCheckpoint checkpoint, Squashing squashing) =>
        CheckModel(checkpoint.Model.Squashing.ToName(), squashing.ToName(), "{0} squashing");

    /// <summary>Refuses to resume <paramref name="checkpoint"/> with C1 and C3 squashed otherwise than in its model.</summary>
    /// <exception cref="ResumeMismatchException">They differ.</exception>
    public static void CheckConvolutions(TrainingCheckpoint checkpoint, ConvolutionSquashing convolutions) =>
        CheckModel(checkpoint.Model.Convolutions.ToName(), convolutions.ToName(), "{0} convolutions");

    /// <summary>Refuses to resume <paramref name="checkpoint"/> with another output layer than its model's.</summary>
    /// <exception cref="ResumeMismatchException">They differ.</exception>
    public static void CheckOutputLayer(TrainingCheckpoint checkpoint, OutputLayer output) =>
        CheckModel(checkpoint.Model.Output.ToName(), output.ToName(), "a {0} output layer");

    /// <summary>A choice of the checkpoint's model (<paramref name="written"/>) the run names otherwise; <paramref name="what"/>
    /// words the checkpoint's side ("{0} squashing").</summary>
    private static void CheckModel(string written, string run, string what)
    {
        if (written != run)
            throw new ResumeMismatchException($"was written with {string.Format(CultureInfo.InvariantCulture, what, written)}; " +
                $"this run has {run}: resume with the same options");
    }

    /// <summary>Refuses a resume whose settings differ from those the checkpoint records (older checkpoints record none).</summary>
    /// <exception cref="ResumeMismatchException">A recorded setting differs.</exception>
    public static void CheckResume(TrainingCheckpoint checkpoint, IReadOnlyDictionary<string, string> settings)
    {
        var recorded = Recorded(checkpoint.Model.Metadata);
        foreach (var (key, value) in settings)
        {
            string name = key[Prefix.Length..];
            if (recorded.TryGetValue(name, out var written) && written != value)
                throw new ResumeMismatchException($"was written with {name.Replace('_', ' ')} {written}; this run has {value}: resume with the same options and data");
        }
    }
}

/// <summary>A checkpoint was written by a run with other settings than the one resuming it.</summary>
public sealed class ResumeMismatchException(string difference) : ArgumentException("the checkpoint " + difference)
{
    /// <summary>What differs, worded to follow the checkpoint's name: "was written with seed 1; this run has 2: …".</summary>
    public string Difference { get; } = difference;
}
