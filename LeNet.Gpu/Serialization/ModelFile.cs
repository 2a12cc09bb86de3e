using System.Text.Json;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Serialization;

/// <summary>
/// A <see cref="LeNetModel"/> as a safetensors file: one F32 tensor per <see cref="ParameterLayout"/> slice,
/// under its PyTorch-style name and shape (C3 dense [16,6,5,5], unconnected entries zero), so the file opens
/// in any safetensors reader. Metadata says what it is — <c>format</c> = lenet-gpu, <c>architecture</c> =
/// lenet5-v1, <c>squashing</c>, <c>connection_table</c> (the S2 maps feeding each C3 map, as JSON) — followed
/// by the model's own provenance (<see cref="LeNetModel.Metadata"/>). An RBF model says <c>output</c> = rbf and
/// stores its fixed centres as <c>rbf.codes</c> [10,84] (each +1 or −1) in place of output.weight and output.bias;
/// a file without <c>output</c> is a softmax model (files written before the RBF layer existed). A model whose C1 and
/// C3 are squashed says <c>convolutions</c> = squashed; a file without it has linear ones.
/// </summary>
public static class ModelFile
{
    public const string Format = "lenet-gpu";
    public const string ArchitectureName = "lenet5-v1";
    public const string FormatKey = "format", ArchitectureKey = "architecture",
        SquashingKey = "squashing", ConnectionTableKey = "connection_table", OutputKey = "output",
        ConvolutionsKey = "convolutions";

    /// <summary>The tensor an RBF model's centres are stored as.</summary>
    public const string RbfCodesName = "rbf.codes";

    /// <summary>Keys the file itself owns; a model's own metadata may not use them.</summary>
    public static readonly IReadOnlyList<string> ReservedKeys = [FormatKey, ArchitectureKey, SquashingKey, ConnectionTableKey, OutputKey, ConvolutionsKey];

    /// <summary>The tensors a file of this output layer holds: the parameter slices, RBF centres in place of OUTPUT's.</summary>
    private static IEnumerable<(string Name, int[] Shape, ParameterSlice Slice)> StoredTensors(OutputLayer output) =>
        output == OutputLayer.Rbf
            ? ParameterLayout.Slices.Where(s => s != ParameterLayout.OutputWeight && s != ParameterLayout.OutputBias)
                .Select(s => (s.Name, s.Shape, s))
                .Append((RbfCodesName, ParameterLayout.OutputWeight.Shape, ParameterLayout.OutputWeight))
            : ParameterLayout.Slices.Select(s => (s.Name, s.Shape, s));

    /// <summary>Table I as stored: <c>[[0,1,2],[1,2,3],…]</c>, the S2 inputs of C3 maps 0..15.</summary>
    public static string ConnectionTableJson { get; } = JsonSerializer.Serialize(
        Enumerable.Range(0, ConnectionTable.OutputMaps).Select(ConnectionTable.InputsOf).ToArray());

    public static byte[] ToBytes(LeNetModel model)
    {
        var (tensors, metadata) = ToTensors(model);
        return SafeTensors.ToBytes(tensors, metadata);
    }

    /// <summary>The model's tensors and metadata, before encoding (checkpoints add their own to these).</summary>
    internal static (List<SafeTensor> Tensors, Dictionary<string, string> Metadata) ToTensors(LeNetModel model)
    {
        var metadata = new Dictionary<string, string>
        {
            [FormatKey] = Format,
            [ArchitectureKey] = ArchitectureName,
            [SquashingKey] = model.Squashing.ToName(),
            [ConnectionTableKey] = ConnectionTableJson,
            [OutputKey] = model.Output.ToName(),
        };
        // Written only when squashed, so a linear model's file stays byte for byte what it was before the choice.
        if (model.Convolutions != ConvolutionSquashing.Linear) metadata[ConvolutionsKey] = model.Convolutions.ToName();
        foreach (var (key, value) in model.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (ReservedKeys.Contains(key))
                throw new ArgumentException($"model metadata key '{key}' is reserved for the file format", nameof(model));
            metadata[key] = value;
        }
        var tensors = StoredTensors(model.Output)
            .Select(t => new SafeTensor(t.Name, (int[])t.Shape.Clone(), model.Tensor(t.Slice).ToArray()))
            .ToList();
        return (tensors, metadata);
    }

    public static void Save(LeNetModel model, Stream stream) => stream.Write(ToBytes(model));

    /// <summary>Writes atomically (<see cref="AtomicFile"/>): a crash never leaves a half-written model under the real name.</summary>
    public static void Save(LeNetModel model, string path) => AtomicFile.WriteAllBytes(path, ToBytes(model));

    /// <summary>Loads and checks a model file.</summary>
    /// <exception cref="ModelFormatException">The first problem found, naming the file.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static LeNetModel Load(string path) => FromBytes(InputFile.ReadAllBytes(path, InputFile.ModelLimit, "a model file"), path);

    /// <summary>Loads from a stream (e.g. an embedded resource); <paramref name="source"/> names it in errors.</summary>
    public static LeNetModel Load(Stream stream, string source = "<stream>")
    {
        var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return FromBytes(buffer.ToArray(), source);
    }

    /// <summary>
    /// Parses and checks a model image: a valid safetensors file (see <see cref="SafeTensors.Parse"/>) holding
    /// exactly LeNet-5's tensors with their shapes, finite values, zeros wherever Table I has no connection,
    /// and this format's metadata with a known squashing function and the paper's connection table.
    /// </summary>
    public static LeNetModel FromBytes(byte[] file, string source)
    {
        var content = SafeTensors.Parse(file, source);
        // A checkpoint holds a model too, but giving one where a model is asked is almost always a mix-up of files.
        if (CheckpointFile.IsCheckpoint(content))
            throw new ModelFormatException(source, $"a training checkpoint, not a model: continue its run with 'lenet train --resume {source}' " +
                "(and the options it was started with), or use the model that run writes (--output)");
        return FromContent(content, source);
    }

    /// <summary>The checks of <see cref="FromBytes"/> on already parsed safetensors content.</summary>
    internal static LeNetModel FromContent(SafeTensorsContent content, string source)
    {
        var metadata = content.Metadata;

        string format = Required(metadata, FormatKey, source);
        if (format != Format)
            throw new ModelFormatException(source, $"format is '{format}', expected '{Format}'");
        string architecture = Required(metadata, ArchitectureKey, source);
        if (architecture != ArchitectureName)
            throw new ModelFormatException(source, $"architecture '{architecture}' is not supported (expected '{ArchitectureName}')");
        Squashing squashing;
        try
        {
            squashing = SquashingExtensions.ParseSquashing(Required(metadata, SquashingKey, source));
        }
        catch (ArgumentException)
        {
            throw new ModelFormatException(source,
                $"unknown squashing function '{metadata[SquashingKey]}' (expected scaled-tanh or sigmoid)");
        }
        string table = Required(metadata, ConnectionTableKey, source);
        if (!SameConnectionTable(table))
            throw new ModelFormatException(source,
                $"connection_table {table} is not the paper's Table I ({ConnectionTableJson})");

        var output = OutputLayer.Softmax;
        if (metadata.TryGetValue(OutputKey, out var outputName))
        {
            try { output = OutputLayerExtensions.ParseOutputLayer(outputName); }
            catch (ArgumentException) { throw new ModelFormatException(source, $"unknown output layer '{outputName}' (expected softmax or rbf)"); }
        }
        var convolutions = ConvolutionSquashing.Linear;
        if (metadata.TryGetValue(ConvolutionsKey, out var convolutionsName))
        {
            try { convolutions = SquashingExtensions.ParseConvolutionSquashing(convolutionsName); }
            catch (ArgumentException) { throw new ModelFormatException(source, $"unknown convolutions '{convolutionsName}' (expected linear or squashed)"); }
        }
        var stored = StoredTensors(output).ToList();

        foreach (var tensor in content.Tensors)
            if (!stored.Any(s => s.Name == tensor.Name))
                throw new ModelFormatException(source,
                    $"unknown tensor '{tensor.Name}' of shape {tensor.ShapeText} (a LeNet-5 with a {output.ToName()} output has {string.Join(", ", stored.Select(s => s.Name))})");

        var parameters = new float[ParameterLayout.Length];
        foreach (var (name, shape, slice) in stored)
        {
            var tensor = content.Find(name)
                ?? throw new ModelFormatException(source, $"missing tensor '{name}' (expected shape {SafeTensors.FormatShape(shape)})");
            if (!tensor.Shape.SequenceEqual(shape))
                throw new ModelFormatException(source,
                    $"tensor '{name}' has shape {tensor.ShapeText}, expected {SafeTensors.FormatShape(shape)}");
            for (int i = 0; i < tensor.Data.Length; i++)
                if (!float.IsFinite(tensor.Data[i]))
                    throw new ModelFormatException(source,
                        $"tensor '{name}' holds {Show(tensor.Data[i])} at {Index(shape, i)}; weights must be finite");
                else if (name == RbfCodesName && tensor.Data[i] is not (1f or -1f))
                    throw new ModelFormatException(source,
                        $"tensor '{name}' holds {Show(tensor.Data[i])} at {Index(shape, i)}; RBF centres must be +1 or -1");
            tensor.Data.CopyTo(parameters, slice.Offset);
        }

        var mask = ParameterLayout.TrainableMask();
        var c3 = ParameterLayout.C3Weight;
        for (int i = c3.Offset; i < c3.End; i++)
            if (mask[i] == 0 && parameters[i] != 0)
            {
                int local = i - c3.Offset;
                int map = local / (Architecture.S2Maps * Architecture.KernelArea);
                int input = local / Architecture.KernelArea % Architecture.S2Maps;
                throw new ModelFormatException(source,
                    $"tensor 'c3.weight' holds {Show(parameters[i])} at {Index(c3.Shape, local)}, but C3 map {map} " +
                    $"is not connected to S2 map {input} (Table I): that entry must be 0");
            }

        var model = new LeNetModel(squashing, parameters, output, convolutions);
        foreach (var (key, value) in metadata)
            if (!ReservedKeys.Contains(key))
                model.Metadata[key] = value;
        CheckOutputsFinite(model, source);
        return model;
    }

    /// <summary>
    /// Finite weights can still overflow: F6 or output weights of ±3e38 make every output infinite or NaN, which an
    /// evaluation would count as a prediction and JSON cannot carry. A few probe images (blank paper, all ink, a box
    /// of ink, a checkerboard) through the CPU engine, one thread, must give finite values in every layer.
    /// </summary>
    private static void CheckOutputsFinite(LeNetModel model, string source)
    {
        const int size = InputField.Size, count = 4;
        var probe = new float[count * size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int at = y * size + x;
                probe[at] = InputField.Background;
                probe[size * size + at] = InputField.Foreground;
                probe[2 * size * size + at] = x is >= 6 and < 26 && y is >= 6 and < 26 ? InputField.Foreground : InputField.Background;
                probe[3 * size * size + at] = (x + y) % 2 == 0 ? InputField.Foreground : InputField.Background;
            }
        using var engine = Engines.CreateChecking(model, count);
        var outputs = engine.Trace(probe);
        var layers = outputs.Layers.Append(outputs.Probabilities).ToList();
        for (int l = 0; l < layers.Count; l++)
            if (Array.FindIndex(layers[l], v => !float.IsFinite(v)) is var bad and >= 0)
                throw new ModelFormatException(source,
                    $"weights too large: a forward pass over {count} probe images gives {Show(layers[l][bad])} in " +
                    $"{(l < layers.Count - 1 ? ((Layer)l).ToString().ToUpperInvariant() : "the probabilities")}; every output must be a finite number");
    }

    private static string Required(IReadOnlyDictionary<string, string> metadata, string key, string source) =>
        metadata.TryGetValue(key, out var value)
            ? value
            : throw new ModelFormatException(source, $"no '{key}' in the metadata; not a {Format} model file");

    /// <summary>Compares by content, so a file written with other JSON spacing still matches.</summary>
    private static bool SameConnectionTable(string json)
    {
        try
        {
            var lists = JsonSerializer.Deserialize<int[][]>(json);
            return lists is { Length: ConnectionTable.OutputMaps }
                && lists.Select((inputs, o) => inputs is not null && inputs.SequenceEqual(ConnectionTable.InputsOf(o))).All(x => x);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Show(float value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Flat index → "[a, b, c, d]" in the tensor's shape.</summary>
    private static string Index(int[] shape, int flat)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return SafeTensors.FormatShape(index);
    }
}
