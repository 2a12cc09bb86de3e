using System.Globalization;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;

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
        metadata["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture);
        metadata["initialization"] = options.Initialization.ToName();
        metadata["optimizer"] = options.Optimizer.ToString().ToLowerInvariant();
        metadata["batch_size"] = options.BatchSize.ToString(CultureInfo.InvariantCulture);
        metadata["learning_rate"] = options.BaseLearningRate.ToString(CultureInfo.InvariantCulture);
        metadata["schedule"] = options.Schedule.ToString().ToLowerInvariant();
        metadata["momentum"] = options.Momentum.ToString(CultureInfo.InvariantCulture);
        metadata["weight_decay"] = options.WeightDecay.ToString(CultureInfo.InvariantCulture);
        metadata["distortion"] = options.Distortion?.ToString() ?? "none";
        metadata["output_layer"] = output.ToName();
        if (output == OutputLayer.Rbf)
            metadata["map_j"] = options.MapJ.ToString(CultureInfo.InvariantCulture);
        if (options.Optimizer == OptimizerKind.Sdlm)
        {
            metadata["sdlm_mu"] = options.SdlmMu.ToString(CultureInfo.InvariantCulture);
            metadata["sdlm_mu_follows_rate"] = options.SdlmMuFollowsRate ? "true" : "false";
            metadata["sdlm_hessian_samples"] = options.SdlmSamples.ToString(CultureInfo.InvariantCulture);
            metadata["sdlm_hessian_every"] = options.SdlmInterval.ToString(CultureInfo.InvariantCulture);
        }
        metadata["command"] = command;
        metadata["test_accuracy"] = testAccuracy.ToString("0.0000", CultureInfo.InvariantCulture);
        metadata["test_images"] = testImages.ToString(CultureInfo.InvariantCulture);
        metadata["device"] = device.Kind.ToName();
        metadata[Engine] = device.Kind == DeviceKind.Cpu ? "cpu" : "ilgpu";
        // The CPU engine's description gives its lanes per vector as the warp size (CpuInferenceEngine.Describe).
        if (device.Kind == DeviceKind.Cpu) metadata[VectorBits] = (device.WarpSize * 32).ToString(CultureInfo.InvariantCulture);
        metadata["training_seconds"] = trainingTime.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
    }
}
