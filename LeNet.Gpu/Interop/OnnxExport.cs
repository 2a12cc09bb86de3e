using Google.Protobuf;
using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using Onnx;

namespace LeNet.Gpu.Interop;

/// <summary>
/// A <see cref="LeNetModel"/> as an ONNX model (IR version 8, default-domain opset 17) built only from standard
/// operators, so any ONNX runtime can run it:
/// <code>
/// image [N,1,32,32]
/// C1     Conv 5×5 (c1.weight, c1.bias)                          → [N,6,28,28]
///        squashing, only when the model's convolutions are squashed
/// S2     Conv 2×2 stride 2, group 6, weights 1 (the 2×2 sum)    → [N,6,14,14]
///        Mul s2.coefficient [1,6,1,1], Add s2.bias [1,6,1,1], squashing
/// C3     Conv 5×5 (c3.weight dense [16,6,5,5], unconnected entries 0, c3.bias) → [N,16,10,10]
///        squashing, only when the model's convolutions are squashed
/// S4     as S2 with 16 maps                                     → [N,16,5,5]
/// C5     Conv 5×5 (c5.weight, c5.bias), Flatten, squashing      → [N,120]
/// F6     Gemm transB=1 (f6.weight [84,120], f6.bias), squashing → [N,84]
/// OUTPUT Gemm transB=1 (output.weight [10,84], output.bias)     → logits [N,10]
///        Softmax axis 1                                         → probabilities [N,10]
/// squashing: Mul 2/3, Tanh, Mul 1.7159 (scaled tanh) or Sigmoid
/// </code>
/// An RBF model (<see cref="OutputLayer.Rbf"/>) ends instead with its ten Euclidean RBF units, written out:
/// <code>
/// OUTPUT Unsqueeze axis 1 [N,1,84], Sub rbf.codes [10,84] → [N,10,84], ReduceSumSquare axis 2 → y [N,10]
///        Neg → logits = −y [N,10], Softmax axis 1 → probabilities = softmax(−y)
/// </code>
/// Initializers keep the model's tensor names and shapes (<see cref="ParameterLayout"/>), except that the
/// subsampling coefficient and bias are reshaped to [1,C,1,1] so they broadcast over the maps. The batch
/// dimension is symbolic ("N"). metadata_props carry what a <see cref="ModelFile"/> carries: architecture,
/// squashing, connection table, output layer, <c>convolutions</c> = squashed for a model whose C1 and C3 are squashed
/// (<see cref="ConvolutionSquashing"/>; absent for linear ones, so their export is what it was before the choice
/// existed), then the model's own provenance.
/// </summary>
public static class OnnxExport
{
    public const long IrVersion = 8;
    public const long Opset = 17;
    public const string ProducerName = "LeNet.Gpu";
    public const string InputName = "image", ProbabilitiesName = "probabilities", LogitsName = "logits";
    public const string BatchDimension = "N";

    // ONNX TensorProto.DataType.FLOAT; OnnxSharp exposes data types as plain ints.
    private const int Float = 1, Int64 = 7;

    /// <summary>The ONNX model, serialized.</summary>
    public static byte[] ToBytes(LeNetModel model) => ToModelProto(model).ToByteArray();

    /// <summary>Writes atomically (<see cref="AtomicFile"/>): a crash never leaves half a model under the real name.</summary>
    public static void Save(LeNetModel model, string path) => AtomicFile.WriteAllBytes(path, ToBytes(model));

    /// <summary>The ONNX model as OnnxSharp's protobuf message (for callers that want to inspect or extend it).</summary>
    public static ModelProto ToModelProto(LeNetModel model)
    {
        bool squashedConvolutions = model.Convolutions == ConvolutionSquashing.Squashed;
        var graph = new GraphProto
        {
            Name = "lenet5",
            DocString = $"LeNet-5 (LeCun et al., 1998), {model.Squashing.ToName()} squashing, {model.Output.ToName()} output" +
                (squashedConvolutions ? ", C1 and C3 squashed" : "") + ". Input: 32×32 fields, " +
                $"background {InputField.Background}, ink {InputField.Foreground} (the paper's scaling).",
        };
        var builder = new GraphBuilder(graph, model.Squashing);

        bool rbf = model.Output == OutputLayer.Rbf;
        foreach (var slice in ParameterLayout.Slices)
        {
            if (rbf && (slice == ParameterLayout.OutputWeight || slice == ParameterLayout.OutputBias)) continue;
            var values = model.Tensor(slice).ToArray();
            if (slice == ParameterLayout.C3Weight) ZeroUnconnected(values);
            // Per-map subsampling parameters broadcast over [N,C,H,W] as [1,C,1,1].
            long[] dims = slice == ParameterLayout.S2Coefficient || slice == ParameterLayout.S2Bias
                || slice == ParameterLayout.S4Coefficient || slice == ParameterLayout.S4Bias
                ? [1, slice.Length, 1, 1]
                : slice.Shape.Select(d => (long)d).ToArray();
            builder.Initializer(slice.Name, dims, values);
        }

        string x = builder.Conv("c1", InputName, ParameterLayout.C1Weight.Name, ParameterLayout.C1Bias.Name);
        if (squashedConvolutions) x = builder.Squash("c1", x);
        x = builder.Subsampling("s2", x, Architecture.C1Maps, ParameterLayout.S2Coefficient.Name, ParameterLayout.S2Bias.Name);
        x = builder.Conv("c3", x, ParameterLayout.C3Weight.Name, ParameterLayout.C3Bias.Name);
        if (squashedConvolutions) x = builder.Squash("c3", x);
        x = builder.Subsampling("s4", x, Architecture.C3Maps, ParameterLayout.S4Coefficient.Name, ParameterLayout.S4Bias.Name);
        x = builder.Conv("c5", x, ParameterLayout.C5Weight.Name, ParameterLayout.C5Bias.Name);
        x = builder.Node("Flatten", "c5.flatten", [x], [Int("axis", 1)]);
        x = builder.Squash("c5", x);
        x = builder.Gemm("f6", x, ParameterLayout.F6Weight.Name, ParameterLayout.F6Bias.Name);
        x = builder.Squash("f6", x);
        if (rbf)
        {
            builder.Initializer(ModelFile.RbfCodesName, [Architecture.Classes, Architecture.F6Units], model.Tensor(ParameterLayout.OutputWeight).ToArray());
            builder.Int64Initializer("rbf.axis", [1], [1]);
            string column = builder.Node("Unsqueeze", "rbf.unsqueeze", [x, "rbf.axis"]);
            string difference = builder.Node("Sub", "rbf.difference", [column, ModelFile.RbfCodesName]);
            string distance = builder.Node("ReduceSumSquare", "rbf.distance", [difference], [Ints("axes", 2), Int("keepdims", 0)]);
            builder.Node("Neg", "rbf.negate", [distance], output: LogitsName);
        }
        else
            builder.Gemm("output", x, ParameterLayout.OutputWeight.Name, ParameterLayout.OutputBias.Name, LogitsName);
        builder.Node("Softmax", "softmax", [LogitsName], [Int("axis", 1)], ProbabilitiesName);

        graph.Input.Add(BatchOf(InputName, 1, Architecture.InputSize, Architecture.InputSize));
        graph.Output.Add(BatchOf(ProbabilitiesName, Architecture.Classes));
        graph.Output.Add(BatchOf(LogitsName, Architecture.Classes));

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = graph.DocString,
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in Metadata(model))
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    /// <summary>The metadata_props, in order: the same keys and values a <see cref="ModelFile"/> writes.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Metadata(LeNetModel model)
    {
        var metadata = new List<KeyValuePair<string, string>>
        {
            new(ModelFile.FormatKey, ModelFile.Format),
            new(ModelFile.ArchitectureKey, ModelFile.ArchitectureName),
            new(ModelFile.SquashingKey, model.Squashing.ToName()),
            new(ModelFile.ConnectionTableKey, ModelFile.ConnectionTableJson),
            new(ModelFile.OutputKey, model.Output.ToName()),
        };
        // As in the model file: only when squashed, so a linear model's export stays byte for byte what it was.
        if (model.Convolutions != ConvolutionSquashing.Linear)
            metadata.Add(new(ModelFile.ConvolutionsKey, model.Convolutions.ToName()));
        foreach (var (key, value) in model.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (ModelFile.ReservedKeys.Contains(key))
                throw new ArgumentException($"model metadata key '{key}' is reserved for the file format", nameof(model));
            metadata.Add(new(key, value));
        }
        return metadata;
    }

    /// <summary>
    /// The kernels never read C3 weights that Table I leaves out, so whatever a model holds there has no effect;
    /// writing +0 makes the dense ONNX convolution compute the same sums.
    /// </summary>
    private static void ZeroUnconnected(float[] c3)
    {
        const int kernel = Architecture.KernelSize * Architecture.KernelSize;
        for (int o = 0; o < ConnectionTable.OutputMaps; o++)
            for (int i = 0; i < ConnectionTable.InputMaps; i++)
                if (!ConnectionTable.IsConnected(o, i))
                    Array.Clear(c3, (o * ConnectionTable.InputMaps + i) * kernel, kernel);
    }

    /// <summary>A float tensor [N, ...perImage] whose batch dimension N is symbolic: any batch size runs.</summary>
    private static ValueInfoProto BatchOf(string name, params long[] perImage)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDimension });
        foreach (long d in perImage)
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float, Shape = shape } },
        };
    }

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>Appends nodes and initializers to one graph; each method returns the name of its output.</summary>
    private sealed class GraphBuilder(GraphProto graph, Squashing squashing)
    {
        private readonly HashSet<string> constants = [];

        public void Initializer(string name, long[] dims, float[] values)
        {
            var tensor = new TensorProto { Name = name, DataType = Float };
            tensor.Dims.AddRange(dims);
            tensor.FloatData.AddRange(values);
            graph.Initializer.Add(tensor);
        }

        public void Int64Initializer(string name, long[] dims, long[] values)
        {
            var tensor = new TensorProto { Name = name, DataType = Int64 };
            tensor.Dims.AddRange(dims);
            tensor.Int64Data.AddRange(values);
            graph.Initializer.Add(tensor);
        }

        /// <summary>A scalar initializer, added once however many nodes use it.</summary>
        private string Scalar(string name, float value)
        {
            if (constants.Add(name)) Initializer(name, [], [value]);
            return name;
        }

        public string Node(string op, string name, string[] inputs, AttributeProto[]? attributes = null, string? output = null)
        {
            var node = new NodeProto { OpType = op, Name = name };
            node.Input.AddRange(inputs);
            node.Output.Add(output ?? name);
            if (attributes is not null) node.Attribute.AddRange(attributes);
            graph.Node.Add(node);
            return output ?? name;
        }

        /// <summary>Valid 5×5 convolution, stride 1, with bias.</summary>
        public string Conv(string name, string input, string weight, string bias) =>
            Node("Conv", name, [input, weight, bias], [Ints("kernel_shape", Architecture.KernelSize, Architecture.KernelSize)]);

        /// <summary>
        /// f(coefficient · (sum of each 2×2 block) + bias). The sum is a depthwise 2×2 convolution with weights 1:
        /// every product is exact, so it adds the same four values the kernel adds (AveragePool would divide by 4
        /// and need a Mul by 4 to undo it).
        /// </summary>
        public string Subsampling(string name, string input, int maps, string coefficient, string bias)
        {
            string window = $"{name}.window";
            var ones = new float[maps * 4];
            Array.Fill(ones, 1f);
            Initializer(window, [maps, 1, 2, 2], ones);
            string sum = Node("Conv", $"{name}.sum", [input, window],
                [Ints("kernel_shape", 2, 2), Ints("strides", 2, 2), Int("group", maps)]);
            string scaled = Node("Mul", $"{name}.scaled", [sum, coefficient]);
            string shifted = Node("Add", $"{name}.shifted", [scaled, bias]);
            return Squash(name, shifted);
        }

        public string Gemm(string name, string input, string weight, string bias, string? output = null) =>
            Node("Gemm", name, [input, weight, bias], [Int("transB", 1)], output);

        /// <summary>1.7159·tanh(2/3·a) with the kernel's float constants, or the logistic sigmoid.</summary>
        public string Squash(string name, string input)
        {
            if (squashing == Squashing.Sigmoid)
                return Node("Sigmoid", $"{name}.sigmoid", [input]);
            string inner = Node("Mul", $"{name}.tanh_in", [input, Scalar("squash.slope", ScaledTanh.Slope)]);
            string tanh = Node("Tanh", $"{name}.tanh", [inner]);
            return Node("Mul", $"{name}.squashed", [tanh, Scalar("squash.amplitude", ScaledTanh.Amplitude)]);
        }
    }
}
