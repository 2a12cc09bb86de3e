using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Serialization;

/// <summary>
/// A training checkpoint: a model file's tensors and metadata (<see cref="ModelFile"/>) plus the optimizer's state
/// as tensors named for what they hold (<see cref="OptimizerStateNames"/>: <c>optimizer.velocity</c>, or
/// <c>optimizer.first_moment</c> and <c>optimizer.second_moment</c>; [61750] each; checkpoints of older versions
/// named them <c>optimizer.a</c> / <c>optimizer.b</c>, which still load) and the position of the run in metadata
/// (<c>checkpoint.epochs_completed</c>, <c>checkpoint.steps</c>, <c>checkpoint.optimizer</c>), sealed by a SHA-256
/// of all of it (<c>checkpoint.sha256</c>), so a flipped bit, a dropped tensor or an edited count is refused
/// instead of resuming to other weights. Written atomically. <see cref="ModelFile.Load(string)"/> refuses it and
/// says to resume from it.
/// </summary>
public static class CheckpointFile
{
    public const string EpochsKey = "checkpoint.epochs_completed", StepsKey = "checkpoint.steps", OptimizerKey = "checkpoint.optimizer",
        ChecksumKey = "checkpoint.sha256";

    /// <summary>True when safetensors content is a checkpoint rather than a model (for telling a user which they gave).</summary>
    public static bool IsCheckpoint(SafeTensorsContent content) =>
        content.Metadata.ContainsKey(EpochsKey) || content.Metadata.ContainsKey(ChecksumKey)
        || content.Tensors.Any(t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal));

    public static void Save(TrainingCheckpoint checkpoint, OptimizerKind optimizer, string path)
    {
        var model = checkpoint.Model.Clone();
        model.Metadata[EpochsKey] = checkpoint.EpochsCompleted.ToString(CultureInfo.InvariantCulture);
        model.Metadata[StepsKey] = checkpoint.Steps.ToString(CultureInfo.InvariantCulture);
        model.Metadata[OptimizerKey] = optimizer.ToString().ToLowerInvariant();
        var (tensors, metadata) = ModelFile.ToTensors(model);
        foreach (var (name, values) in checkpoint.OptimizerState.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            tensors.Add(new SafeTensor(name, [values.Length], values));
        metadata[ChecksumKey] = Checksum(tensors, metadata);
        AtomicFile.WriteAllBytes(path, SafeTensors.ToBytes(tensors, metadata));
    }

    /// <summary>Loads a checkpoint written for <paramref name="optimizer"/>; a model file without state is an error.</summary>
    public static TrainingCheckpoint Load(string path, OptimizerKind optimizer)
    {
        var content = SafeTensors.Read(path);
        if (!IsCheckpoint(content))
            throw new ModelFormatException(path, "a model file, not a training checkpoint (train writes one beside its model, OUTPUT.ckpt)");
        if (!content.Metadata.TryGetValue(ChecksumKey, out var recorded))
            throw new ModelFormatException(path, $"no checksum ('{ChecksumKey}'): not a checkpoint written by this lenet, or altered; it cannot be trusted to resume");
        var stateTensors = content.Tensors.Where(t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal)).ToList();
        // A missing state tensor also breaks the checksum; naming it says more.
        var needed = OptimizerStateNames.For(optimizer);
        foreach (var name in needed)
            if (!stateTensors.Any(t => OptimizerStateNames.Current(t.Name, optimizer) == name) && content.Metadata.GetValueOrDefault(OptimizerKey) == optimizer.ToString().ToLowerInvariant())
                throw new ModelFormatException(path, $"no tensor '{name}': the {optimizer.ToString().ToLowerInvariant()} optimizer's state is incomplete, so the run cannot continue as it was");
        if (recorded != Checksum(content.Tensors, content.Metadata))
            throw new ModelFormatException(path, "the contents do not match the checkpoint's checksum: the file is damaged or was altered; resume from another checkpoint or start again");
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
        if (stateTensors.FirstOrDefault(t => !needed.Contains(OptimizerStateNames.Current(t.Name, optimizer))) is { } extra)
            throw new ModelFormatException(path, $"tensor '{extra.Name}' is not state of the {optimizer.ToString().ToLowerInvariant()} optimizer");
        foreach (var key in new[] { EpochsKey, StepsKey, OptimizerKey, ChecksumKey }) model.Metadata.Remove(key);
        return new TrainingCheckpoint(model, epochs, steps, stateTensors.ToDictionary(t => OptimizerStateNames.Current(t.Name, optimizer), t => t.Data));
    }

    /// <summary>
    /// SHA-256 over every tensor (by name: name, shape, little-endian floats) and every metadata entry but the
    /// checksum itself (by key), as lower-case hex: independent of the order they are stored in.
    /// </summary>
    internal static string Checksum(IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> word = stackalloc byte[4];
        foreach (var tensor in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(tensor.Name + "\0"));
            foreach (int dimension in tensor.Shape.Prepend(tensor.Shape.Length))
            {
                BinaryPrimitives.WriteInt32LittleEndian(word, dimension);
                hash.AppendData(word);
            }
            if (BitConverter.IsLittleEndian)
                hash.AppendData(MemoryMarshal.AsBytes(tensor.Data.AsSpan()));
            else
                foreach (float value in tensor.Data)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(word, value);
                    hash.AppendData(word);
                }
        }
        foreach (var (key, value) in metadata.Where(kv => kv.Key != ChecksumKey).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            hash.AppendData(Encoding.UTF8.GetBytes(key + "\0" + value + "\0"));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
