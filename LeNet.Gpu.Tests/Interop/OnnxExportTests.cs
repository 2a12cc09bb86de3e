using Google.Protobuf;
using LeNet.Gpu.Data;
using LeNet.Gpu.Interop;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;
using Onnx;
using Xunit;
using Xunit.Abstractions;

namespace LeNet.Gpu.Tests.Interop;

/// <summary>
/// The ONNX export against the library itself: ONNX Runtime (an independent implementation of every operator)
/// loads the exported model, which runs ONNX's checks, and its probabilities must match
/// <see cref="IlgpuInferenceEngine"/> on the CPU accelerator within <see cref="ProbabilityBound"/>, with the same classes.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class OnnxExportTests(CpuAcceleratorFixture gpu, ITestOutputHelper output)
{
    /// <summary>Largest allowed |p_onnx − p_engine| for any probability.</summary>
    private const float ProbabilityBound = 1e-5f;

    /// <summary>Logits are unbounded sums; allowed difference relative to max(1, largest |logit|).</summary>
    private const float LogitBound = 1e-5f;

    /// <summary>
    /// Squashing × batch size × gain. Gain 1 is the paper's initialisation, whose logits stay within a few hundredths
    /// of each other (the softmax is nearly uniform); gain 8 multiplies every parameter by 8 (exact: a power of
    /// two), which saturates units and spreads the logits over several units, as in a trained network.
    /// </summary>
    public static TheoryData<Squashing, int, float> Cases
    {
        get
        {
            var cases = new TheoryData<Squashing, int, float>();
            foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
                foreach (int batch in new[] { 1, 7, 64 })
                    foreach (float gain in new[] { 1f, 8f })
                        cases.Add(squashing, batch, gain);
            return cases;
        }
    }

    private static LeNetModel Scaled(LeNetModel model, float gain)
    {
        foreach (ref float p in model.Parameters.AsSpan()) p *= gain;
        return model;
    }

    /// <summary>Runs both on the same images and asserts they agree; returns the largest probability difference.</summary>
    private float AssertSameAsEngine(string what, LeNetModel model, float[] images)
    {
        int n = images.Length / 1024;
        using var onnx = new OnnxModel(OnnxExport.ToBytes(model));
        var (probabilities, logits) = onnx.Run(images);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: n);
        var trace = engine.Trace(images);

        float probabilityDiff = OnnxModel.MaxAbsDifference(probabilities, trace.Probabilities);
        float logitScale = Math.Max(1f, trace.Of(Layer.Output).Max(Math.Abs));
        float logitDiff = OnnxModel.MaxAbsDifference(logits, trace.Of(Layer.Output));
        output.WriteLine($"{what}: max |Δp| = {probabilityDiff:E2}, max |Δlogit| = {logitDiff:E2} (largest |logit| {trace.Of(Layer.Output).Max(Math.Abs):F3})");

        Assert.True(probabilityDiff <= ProbabilityBound, $"{what}: probabilities differ by {probabilityDiff:E3} (bound {ProbabilityBound:E0})");
        Assert.True(logitDiff <= LogitBound * logitScale, $"{what}: logits differ by {logitDiff:E3} (bound {LogitBound * logitScale:E2})");
        Assert.Equal(trace.Classes, OnnxModel.ArgMax(logits));
        Assert.Equal(trace.Classes, OnnxModel.ArgMax(probabilities));
        return probabilityDiff;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OnnxRuntime_MatchesInferenceEngine_OnRandomWeightsAndImages(Squashing squashing, int batch, float gain)
    {
        int seed = 1000 * (int)squashing + 10 * batch + (int)gain; // fresh weights and images for every case
        var model = Scaled(LeNetModel.CreateRandom(seed, squashing), gain);
        AssertSameAsEngine($"{squashing.ToName()}, batch {batch}, gain {gain}", model, TestData.RandomImages(batch, seed + 1));
    }

    /// <summary>
    /// An RBF model exports its ten RBF units with standard operators (Unsqueeze, Sub, ReduceSumSquare, Neg), its
    /// centres as rbf.codes; ONNX Runtime's −y and softmax(−y) match the CPU engine's (which computes them its own way).
    /// </summary>
    [Theory]
    [InlineData(1, 1f)]
    [InlineData(9, 4f)]
    public void OnnxRuntime_MatchesTheCpuEngine_OnRbfModels(int batch, float gain)
    {
        var model = LeNetModel.CreateRandom(50 + batch, Squashing.ScaledTanh, output: OutputLayer.Rbf);
        var mask = ParameterLayout.TrainableMask(OutputLayer.Rbf);
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0) model.Parameters[i] *= gain;
        var images = TestData.RandomImages(batch, seed: 9);

        var proto = OnnxExport.ToModelProto(model);
        Assert.Contains(proto.Graph.Initializer, t => t.Name == ModelFile.RbfCodesName && t.Dims.SequenceEqual([10L, 84L]));
        Assert.DoesNotContain(proto.Graph.Initializer, t => t.Name == "output.weight");
        Assert.Equal(["Unsqueeze", "Sub", "ReduceSumSquare", "Neg", "Softmax"], proto.Graph.Node.TakeLast(5).Select(n => n.OpType));
        Assert.Contains(proto.MetadataProps, p => p.Key == "output" && p.Value == "rbf");

        using var onnx = new OnnxModel(OnnxExport.ToBytes(model));
        var (probabilities, logits) = onnx.Run(images);
        var network = new LeNet.Gpu.Cpu.CpuNetwork(batch, threads: 1);
        network.Forward(model.Parameters, model.Squashing, images, batch, OutputLayer.Rbf);
        var negativeY = network.Activations(LeNet.Gpu.Model.Layer.Output);
        float scale = Math.Max(1f, negativeY.Max(Math.Abs));
        Assert.True(OnnxModel.MaxAbsDifference(logits, negativeY) <= 1e-5f * scale, $"−y differs by {OnnxModel.MaxAbsDifference(logits, negativeY):E3}");
        Assert.True(OnnxModel.MaxAbsDifference(probabilities, network.Probabilities.ToArray()) <= ProbabilityBound);
        Assert.Equal(network.Predictions.ToArray(), OnnxModel.ArgMax(logits));
    }

    /// <summary>
    /// Squashing × output layer for models whose C1 and C3 are squashed, with batch and gain. The gain multiplies
    /// every trainable parameter (an RBF model's ±1 centres stay as they are): C1's and C3's sums then reach the
    /// squashing function's curved part, so squashing them or not changes every output far beyond the bounds.
    /// </summary>
    public static TheoryData<Squashing, OutputLayer, int, float> SquashedConvolutionCases => new()
    {
        { Squashing.ScaledTanh, OutputLayer.Softmax, 7, 8f },
        { Squashing.Sigmoid, OutputLayer.Softmax, 5, 8f },
        { Squashing.ScaledTanh, OutputLayer.Rbf, 9, 4f },
        { Squashing.Sigmoid, OutputLayer.Rbf, 3, 4f },
    };

    /// <summary>
    /// A model whose C1 and C3 are squashed exports the squashing after each of their Convs; ONNX Runtime's logits and
    /// probabilities match the CPU engine's (which squashes them its own way; the ILGPU engine is not asked here).
    /// The same weights exported as a linear model give outputs far outside both bounds, so the agreement needs the
    /// squashing nodes.
    /// </summary>
    [Theory]
    [MemberData(nameof(SquashedConvolutionCases))]
    public void OnnxRuntime_MatchesTheCpuEngine_OnSquashedConvolutions(Squashing squashing, OutputLayer outputLayer, int batch, float gain)
    {
        int seed = 300 + 100 * (int)squashing + 10 * (int)outputLayer + batch;
        var model = LeNetModel.CreateRandom(seed, squashing, output: outputLayer, convolutions: ConvolutionSquashing.Squashed);
        var mask = ParameterLayout.TrainableMask(outputLayer);
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0) model.Parameters[i] *= gain;
        var images = TestData.RandomImages(batch, seed + 1);
        string what = $"{squashing.ToName()}, {outputLayer.ToName()}, squashed convolutions, batch {batch}, gain {gain}";

        // The squashing sits between each Conv and the 2×2 sum that reads it.
        var proto = OnnxExport.ToModelProto(model);
        string[] squash = squashing == Squashing.Sigmoid ? ["Sigmoid"] : ["Mul", "Tanh", "Mul"];
        foreach (var (conv, sum) in new[] { ("c1", "s2.sum"), ("c3", "s4.sum") })
        {
            var nodes = proto.Graph.Node.ToList();
            int at = nodes.FindIndex(n => n.Name == conv);
            var between = nodes.Skip(at + 1).Take(squash.Length + 1).ToList();
            Assert.Equal([.. squash, "Conv"], between.Select(n => n.OpType));
            Assert.Equal(conv, between[0].Input[0]);
            Assert.Equal(sum, between[^1].Name);
            Assert.Equal(between[^2].Output[0], between[^1].Input[0]);
        }

        using var onnx = new OnnxModel(OnnxExport.ToBytes(model));
        var (probabilities, logits) = onnx.Run(images);
        using var engine = new LeNet.Gpu.Cpu.CpuInferenceEngine(model, batchCapacity: batch, threads: 1);
        var trace = engine.Trace(images);

        float probabilityDiff = OnnxModel.MaxAbsDifference(probabilities, trace.Probabilities);
        float logitScale = Math.Max(1f, trace.Of(Layer.Output).Max(Math.Abs));
        float logitDiff = OnnxModel.MaxAbsDifference(logits, trace.Of(Layer.Output));

        var linear = new LeNetModel(squashing, (float[])model.Parameters.Clone(), outputLayer, ConvolutionSquashing.Linear);
        using var linearOnnx = new OnnxModel(OnnxExport.ToBytes(linear));
        var (linearProbabilities, linearLogits) = linearOnnx.Run(images);
        float linearProbabilityDiff = OnnxModel.MaxAbsDifference(linearProbabilities, trace.Probabilities);
        float linearLogitDiff = OnnxModel.MaxAbsDifference(linearLogits, trace.Of(Layer.Output));
        output.WriteLine($"{what}: max |Δp| = {probabilityDiff:E2}, max |Δlogit| = {logitDiff:E2} (largest |logit| {trace.Of(Layer.Output).Max(Math.Abs):F3}); " +
            $"exported as linear: max |Δp| = {linearProbabilityDiff:E2}, max |Δlogit| = {linearLogitDiff:E2}");

        Assert.True(probabilityDiff <= ProbabilityBound, $"{what}: probabilities differ by {probabilityDiff:E3} (bound {ProbabilityBound:E0})");
        Assert.True(logitDiff <= LogitBound * logitScale, $"{what}: logits differ by {logitDiff:E3} (bound {LogitBound * logitScale:E2})");
        Assert.Equal(trace.Classes, OnnxModel.ArgMax(logits));
        Assert.Equal(trace.Classes, OnnxModel.ArgMax(probabilities));
        // Without the squashing nodes the export is the linear one, which misses both bounds more than tenfold
        // (measured: 68× to 15000×).
        Assert.True(linearProbabilityDiff > 10 * ProbabilityBound, $"{what}: exported as linear, probabilities differ by only {linearProbabilityDiff:E3}");
        Assert.True(linearLogitDiff > 10 * LogitBound * logitScale, $"{what}: exported as linear, logits differ by only {linearLogitDiff:E3}");
    }

    [SkippableFact]
    public void OnnxRuntime_MatchesInferenceEngine_OnRealDigits()
    {
        Skip.If(DataCatalog.Find(DataCatalog.Digits) is null, RealData.DigitsMissing);
        var test = DataCatalog.Load(DataCatalog.Digits).Test;
        // 200 images spread over the whole test split: it is ordered by class, so its first 200 are all zeros.
        int n = Math.Min(200, test.Count), step = test.Count / n;
        var images = new float[n * Architecture.InputLength];
        for (int i = 0; i < n; i++)
            test.Images.AsSpan(i * step * Architecture.InputLength, Architecture.InputLength).CopyTo(images.AsSpan(i * Architecture.InputLength));
        Assert.Equal(10, Enumerable.Range(0, n).Select(i => test.Labels[i * step]).Distinct().Count());

        // No trained model ships with the repository, and agreement does not need accuracy: random weights at
        // gain 8 (see Cases), so the softmax is far from uniform.
        var model = Scaled(LeNetModel.CreateRandom(77, Squashing.ScaledTanh), 8f);
        AssertSameAsEngine($"digits, {n} test images", model, images);
    }

    [Fact]
    public void UnconnectedC3Weights_AreExportedAsExactZeros_WhateverTheModelHolds()
    {
        var model = LeNetModel.CreateRandom(5);
        // The kernels never read these entries, so garbage there must not reach the ONNX model either.
        var mask = ParameterLayout.TrainableMask();
        for (int i = ParameterLayout.C3Weight.Offset; i < ParameterLayout.C3Weight.End; i++)
            if (mask[i] == 0) model.Parameters[i] = 0.5f + i % 7;

        var proto = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(model));
        var c3 = proto.Graph.Initializer.Single(t => t.Name == "c3.weight").FloatData.ToArray();
        Assert.Equal([16L, 6, 5, 5], proto.Graph.Initializer.Single(t => t.Name == "c3.weight").Dims);
        int zeros = 0;
        for (int o = 0; o < 16; o++)
            for (int i = 0; i < 6; i++)
                for (int k = 0; k < 25; k++)
                {
                    int at = (o * 6 + i) * 25 + k;
                    if (ConnectionTable.IsConnected(o, i))
                        Assert.Equal(BitConverter.SingleToInt32Bits(model.Tensor(ParameterLayout.C3Weight)[at]), BitConverter.SingleToInt32Bits(c3[at]));
                    else
                    {
                        Assert.True(BitConverter.SingleToInt32Bits(c3[at]) == 0, $"c3.weight[{o}, {i}, {k / 5}, {k % 5}] = {c3[at]}, expected +0");
                        zeros++;
                    }
                }
        Assert.Equal(900, zeros); // Table I leaves out 36 of the 96 (map, input) pairs: 36 × 25 weights

        AssertSameAsEngine("garbage in unconnected C3 weights", model, TestData.RandomImages(5, 6));
    }

    [Fact]
    public void Initializers_HoldEveryParameterTensor_BitExact_UnderItsPyTorchName()
    {
        var model = LeNetModel.CreateRandom(11, Squashing.Sigmoid);
        var proto = ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(model));
        foreach (var slice in ParameterLayout.Slices)
        {
            var tensor = proto.Graph.Initializer.Single(t => t.Name == slice.Name);
            Assert.Equal(1, tensor.DataType); // FLOAT
            long[] expectedDims = slice.Name.StartsWith('s') // subsampling coefficient / bias: [1, C, 1, 1]
                ? [1, slice.Length, 1, 1]
                : slice.Shape.Select(d => (long)d).ToArray();
            Assert.Equal(expectedDims, tensor.Dims);
            Assert.Equal(model.Tensor(slice).ToArray().Select(BitConverter.SingleToInt32Bits), tensor.FloatData.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void Model_IsOpset17_IrVersion8_StandardOperatorsOnly_WithADynamicBatch()
    {
        var model = LeNetModel.CreateRandom(3);
        byte[] bytes = OnnxExport.ToBytes(model);
        var proto = ModelProto.Parser.ParseFrom(bytes);

        Assert.Equal(8, proto.IrVersion);
        var opset = Assert.Single(proto.OpsetImport);
        Assert.Equal("", opset.Domain);
        Assert.Equal(17, opset.Version);
        Assert.Equal("LeNet.Gpu", proto.ProducerName);
        string[] standard = ["Conv", "Mul", "Add", "Tanh", "Sigmoid", "Flatten", "Gemm", "Softmax"];
        Assert.All(proto.Graph.Node, node =>
        {
            Assert.Equal("", node.Domain);
            Assert.Contains(node.OpType, standard);
        });
        Assert.Equal(["c1", "s2.sum", "c3", "s4.sum", "c5"], proto.Graph.Node.Where(n => n.OpType == "Conv").Select(n => n.Name));
        Assert.Equal(2, proto.Graph.Node.Count(n => n.OpType == "Gemm" && n.Attribute.Single(a => a.Name == "transB").I == 1));

        string Dims(ValueInfoProto v) => string.Join(",", v.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString()));
        var input = Assert.Single(proto.Graph.Input); // initializers are not listed as inputs (IR ≥ 4)
        Assert.Equal("image", input.Name);
        Assert.Equal(1, input.Type.TensorType.ElemType);
        Assert.Equal("N,1,32,32", Dims(input));
        Assert.Equal(["probabilities", "logits"], proto.Graph.Output.Select(o => o.Name));
        Assert.All(proto.Graph.Output, o => Assert.Equal("N,10", Dims(o)));

        // ONNX Runtime sees the same: a symbolic first dimension (reported as −1) named N.
        using var onnx = new OnnxModel(bytes);
        var image = onnx.Session.InputMetadata["image"];
        Assert.Equal([-1, 1, 32, 32], image.Dimensions);
        Assert.Equal("N", image.SymbolicDimensions[0]);
        Assert.Equal([-1, 10], onnx.Session.OutputMetadata["probabilities"].Dimensions);
    }

    [Fact]
    public void MetadataProps_CarryArchitectureSquashingConnectionTableAndProvenance()
    {
        var model = LeNetModel.CreateRandom(4, Squashing.Sigmoid);
        model.Metadata["dataset"] = "digits";
        model.Metadata["epochs"] = "12";
        model.Metadata["accuracy"] = "0.9731";
        byte[] bytes = OnnxExport.ToBytes(model);

        var expected = new Dictionary<string, string>
        {
            ["format"] = "lenet-gpu",
            ["architecture"] = "lenet5-v1",
            ["squashing"] = "sigmoid",
            ["connection_table"] = ModelFile.ConnectionTableJson,
            ["output"] = "softmax",
            ["dataset"] = "digits",
            ["epochs"] = "12",
            ["accuracy"] = "0.9731",
        };
        var proto = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(expected, proto.MetadataProps.ToDictionary(p => p.Key, p => p.Value));
        Assert.StartsWith("[[0,1,2],[1,2,3],", ModelFile.ConnectionTableJson);

        using var onnx = new OnnxModel(bytes);
        Assert.Equal(expected, onnx.Session.ModelMetadata.CustomMetadataMap);
        Assert.Equal("LeNet.Gpu", onnx.Session.ModelMetadata.ProducerName);
    }

    [Theory]
    [InlineData(ConvolutionSquashing.Linear)]
    [InlineData(ConvolutionSquashing.Squashed)]
    public void MetadataProps_SayConvolutionsAreSquashed_OnlyWhenTheyAre_AsTheModelFileDoes(ConvolutionSquashing convolutions)
    {
        var model = LeNetModel.CreateRandom(6, Squashing.ScaledTanh, output: OutputLayer.Rbf, convolutions: convolutions);
        model.Metadata["dataset"] = "digits";
        byte[] bytes = OnnxExport.ToBytes(model);

        List<string> expected = ["format", "architecture", "squashing", "connection_table", "output", "convolutions", "dataset"];
        if (convolutions == ConvolutionSquashing.Linear) expected.Remove("convolutions");
        var proto = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(expected, proto.MetadataProps.Select(p => p.Key));
        // The same keys and values as the model file's, which ModelFile.Load reads the choice back from.
        var file = new Dictionary<string, string>(SafeTensors.Parse(ModelFile.ToBytes(model), "mem").Metadata);
        Assert.Equal(file, proto.MetadataProps.ToDictionary(p => p.Key, p => p.Value));
        using var onnx = new OnnxModel(bytes);
        var map = onnx.Session.ModelMetadata.CustomMetadataMap;
        if (convolutions == ConvolutionSquashing.Squashed)
        {
            Assert.Equal("squashed", map["convolutions"]);
            Assert.Contains("C1 and C3 squashed", proto.Graph.DocString);
        }
        else
        {
            Assert.DoesNotContain("convolutions", map.Keys);
            Assert.DoesNotContain("squashed", proto.Graph.DocString);
            // Nothing but the model's own squashing nodes: S2, S4, C5, F6.
            Assert.Equal(["s2.tanh", "s4.tanh", "c5.tanh", "f6.tanh"], proto.Graph.Node.Where(n => n.OpType == "Tanh").Select(n => n.Name));
        }
    }

    [Fact]
    public void ReservedMetadataKey_IsRefused()
    {
        var model = LeNetModel.CreateRandom(4);
        model.Metadata["squashing"] = "relu";
        var e = Assert.Throws<ArgumentException>(() => OnnxExport.ToBytes(model));
        Assert.Contains("'squashing' is reserved", e.Message);
    }

    [Fact]
    public void Export_IsDeterministic_AndSaveWritesTheSameBytesAtomically()
    {
        var model = LeNetModel.CreateRandom(8);
        byte[] first = OnnxExport.ToBytes(model);
        Assert.Equal(first, OnnxExport.ToBytes(model.Clone()));

        using var dir = new TempDirectory();
        string path = dir.File("lenet.onnx");
        File.WriteAllText(path, "old contents");
        OnnxExport.Save(model, path);
        Assert.Equal(first, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path)); // replaced, no temporary file left behind
    }

    [Fact]
    public void Save_IntoAMissingDirectory_FailsNamingThePath()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "no-such-dir", "lenet.onnx");
        var e = Assert.ThrowsAny<IOException>(() => OnnxExport.Save(LeNetModel.CreateRandom(1), path));
        Assert.Contains(path, e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void OnnxSharpRoundTrip_KeepsTheModel()
    {
        // What a tool that edits the model with OnnxSharp (or any protobuf reader) would write back.
        byte[] bytes = OnnxExport.ToBytes(LeNetModel.CreateRandom(9));
        Assert.Equal(bytes, ModelProto.Parser.ParseFrom(bytes).ToByteArray());
    }
}
