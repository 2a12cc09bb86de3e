using System.Globalization;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;

namespace LeNet.Gpu.Serialization;

/// <summary>
/// A training checkpoint: a model file (<see cref="ModelFile"/>: it loads as a model too) plus the optimizer's
/// state as tensors <c>optimizer.a</c> / <c>optimizer.b</c> [61750] and the position of the run in metadata
/// (<c>checkpoint.epochs_completed</c>, <c>checkpoint.steps</c>, <c>checkpoint.optimizer</c>). Written atomically.
/// </summary>
public static class CheckpointFile
{
    public const string EpochsKey = "checkpoint.epochs_completed", StepsKey = "checkpoint.steps", OptimizerKey = "checkpoint.optimizer";

    public static void Save(TrainingCheckpoint checkpoint, OptimizerKind optimizer, string path)
    {
        var model = checkpoint.Model.Clone();
        model.Metadata[EpochsKey] = checkpoint.EpochsCompleted.ToString(CultureInfo.InvariantCulture);
        model.Metadata[StepsKey] = checkpoint.Steps.ToString(CultureInfo.InvariantCulture);
        model.Metadata[OptimizerKey] = optimizer.ToString().ToLowerInvariant();
        var (tensors, metadata) = ModelFile.ToTensors(model);
        foreach (var (name, values) in checkpoint.OptimizerState.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            tensors.Add(new SafeTensor(name, [values.Length], values));
        AtomicFile.WriteAllBytes(path, SafeTensors.ToBytes(tensors, metadata));
    }

    /// <summary>Loads a checkpoint written for <paramref name="optimizer"/>; a model file without state is an error.</summary>
    public static TrainingCheckpoint Load(string path, OptimizerKind optimizer)
    {
        var content = SafeTensors.Read(path);
        var stateTensors = content.Tensors.Where(t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal)).ToList();
        var model = ModelFile.FromContent(
            new SafeTensorsContent(content.Tensors.Except(stateTensors).ToList(), content.Metadata), path);

        string Get(string key) => model.Metadata.TryGetValue(key, out var v)
            ? v
            : throw new ModelFormatException(path, $"no '{key}' in the metadata; a model file, not a training checkpoint");
        if (!int.TryParse(Get(EpochsKey), NumberStyles.None, CultureInfo.InvariantCulture, out int epochs))
            throw new ModelFormatException(path, $"'{EpochsKey}' is '{Get(EpochsKey)}', not a whole number");
        if (!long.TryParse(Get(StepsKey), NumberStyles.None, CultureInfo.InvariantCulture, out long steps))
            throw new ModelFormatException(path, $"'{StepsKey}' is '{Get(StepsKey)}', not a whole number");
        string written = Get(OptimizerKey);
        if (!string.Equals(written, optimizer.ToString(), StringComparison.OrdinalIgnoreCase))
            throw new ModelFormatException(path, $"checkpoint was written by the {written} optimizer; this run uses {optimizer.ToString().ToLowerInvariant()}");
        foreach (var t in stateTensors)
            if (t.Shape.Length != 1 || t.Shape[0] != ParameterLayout.Length)
                throw new ModelFormatException(path, $"tensor '{t.Name}' has shape {t.ShapeText}, expected [{ParameterLayout.Length}]");
        foreach (var key in new[] { EpochsKey, StepsKey, OptimizerKey }) model.Metadata.Remove(key);
        return new TrainingCheckpoint(model, epochs, steps, stateTensors.ToDictionary(t => t.Name, t => t.Data));
    }
}
