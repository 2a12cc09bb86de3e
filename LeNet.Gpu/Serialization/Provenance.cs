using System.Globalization;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Serialization;

/// <summary>
/// The metadata a trained model carries about how it was made (its provenance), and what is read back from it:
/// the dataset it was trained on and so the names of its classes. Every command reads them here, and a finished
/// training run writes them here (<see cref="Record"/>).
/// </summary>
public static class Provenance
{
    /// <summary>The dataset a model was trained on: a name from <see cref="DataCatalog.Names"/>, or a <c>--data</c> folder's name.</summary>
    public const string Dataset = "dataset";

    /// <summary>The engine that trained a model: <c>cpu</c> (the CPU engine) or <c>ilgpu</c> (the kernels, on whichever device).</summary>
    public const string Engine = "engine";

    /// <summary>
    /// The CPU engine's vector width when it trained a model (128, 256 or 512 bits): for the record only, since every
    /// width trains the same weights.
    /// </summary>
    public const string VectorBits = "vector_bits";

    /// <summary>The named dataset <paramref name="metadata"/> says the model was trained on; null when it names none this library knows.</summary>
    public static string? TrainedOn(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(Dataset, out var name) && DataCatalog.Names.Contains(name) ? name : null;

    /// <summary>The model's class names, index = class: Fashion-MNIST's for a model trained on it, else the digits.</summary>
    public static IReadOnlyList<string> ClassNames(IReadOnlyDictionary<string, string> metadata) =>
        TrainedOn(metadata) == DataCatalog.Fashion ? Data.ClassNames.Fashion : Data.ClassNames.Digits;

    /// <summary>
    /// Writes a finished run's provenance into <paramref name="metadata"/>: the data, the options that shaped the
    /// weights, the <paramref name="command"/> that ran it, the test accuracy measured once at the end, the device, the
    /// engine (and the CPU engine's vector width) and the training time. (The settings a resume must share are
    /// <see cref="RunSettings"/>, in checkpoints.)
    /// </summary>
    public static void Record(IDictionary<string, string> metadata, string dataset, int epochs, TrainingOptions options, OutputLayer output, string command,
        double testAccuracy, int testImages, DeviceDescription device, TimeSpan trainingTime)
    {
        metadata[Dataset] = dataset;
        metadata["epochs"] = epochs.ToString(CultureInfo.InvariantCulture);
        // The settings in the checkpoint's spelling and format (RunSettings), those that shaped these weights.
        var settings = RunSettings.OfOptions(options);
        foreach (var key in RecordedSettings(options, output)) metadata[key] = settings[key];
        metadata["output_layer"] = output.ToName();
        metadata[CommandKey] = command;
        metadata["test_accuracy"] = testAccuracy.ToString("0.0000", CultureInfo.InvariantCulture);
        metadata["test_images"] = testImages.ToString(CultureInfo.InvariantCulture);
        metadata["device"] = device.Kind.ToName();
        metadata[Engine] = device.Kind == DeviceKind.Cpu ? "cpu" : "ilgpu";
        // The CPU engine's description gives its lanes per vector as the warp size (CpuInferenceEngine.Describe).
        if (device.Kind == DeviceKind.Cpu) metadata[VectorBits] = (device.WarpSize * 32).ToString(CultureInfo.InvariantCulture);
        metadata[SecondsKey] = trainingTime.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
    }

    /// <summary>Keys a checkpoint's metadata carries across resumes, so a resumed model records the whole training.</summary>
    public const string CommandKey = "command", SecondsKey = "training_seconds";

    /// <summary>
    /// The command that began the run <paramref name="checkpoint"/> continues and the training time before it (null and
    /// zero where there is no checkpoint or it does not record them: the run then counts from this part).
    /// </summary>
    public static (string? Command, TimeSpan Earlier) Carried(TrainingCheckpoint? checkpoint)
    {
        var metadata = checkpoint?.Model.Metadata;
        double seconds = metadata?.GetValueOrDefault(SecondsKey) is { } s
            && double.TryParse(s, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) && d > 0 ? d : 0;
        return (metadata?.GetValueOrDefault(CommandKey), TimeSpan.FromSeconds(seconds));
    }

    /// <summary>Writes into a checkpoint's metadata what <see cref="Carried"/> reads back.</summary>
    public static void Carry(IDictionary<string, string> checkpointMetadata, string command, TimeSpan trainingTime)
    {
        checkpointMetadata[CommandKey] = command;
        checkpointMetadata[SecondsKey] = trainingTime.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
    }

    /// <summary>The <see cref="RunSettings.OfOptions"/> a model file records: MAP's j for an RBF output, SDLM's for SDLM.</summary>
    private static IEnumerable<string> RecordedSettings(TrainingOptions options, OutputLayer output)
    {
        string[] always = ["seed", "initialization", "optimizer", "batch_size", "learning_rate", "schedule", "momentum", "weight_decay", "distortion"];
        foreach (var key in always) yield return key;
        if (output == OutputLayer.Rbf) yield return "map_j";
        if (options.Optimizer == OptimizerKind.Sdlm)
            foreach (var key in new[] { "sdlm_mu", "sdlm_mu_follows_rate", "sdlm_hessian_samples", "sdlm_hessian_every" }) yield return key;
    }
}
