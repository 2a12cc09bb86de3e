using System.Text.Json.Nodes;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Serialization;

public class ModelFileTests
{
    private static LeNetModel Trained(Squashing squashing = Squashing.ScaledTanh)
    {
        var model = LeNetModel.CreateRandom(seed: 1234, squashing);
        model.Metadata["dataset"] = "digits";
        model.Metadata["epochs"] = "20";
        model.Metadata["seed"] = "1234";
        model.Metadata["accuracy"] = "0.9812";
        return model;
    }

    private static ModelFormatException Fails(byte[] file)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.FromBytes(file, "/models/x.safetensors"));
        Assert.StartsWith("/models/x.safetensors: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    /// <summary>The model's tensors, optionally edited, written with the model file's metadata.</summary>
    private static byte[] Rewrite(LeNetModel model, Func<List<SafeTensor>, List<SafeTensor>> edit,
        Action<Dictionary<string, string>>? editMetadata = null)
    {
        var content = SafeTensors.Parse(ModelFile.ToBytes(model), "mem");
        var metadata = new Dictionary<string, string>(content.Metadata);
        editMetadata?.Invoke(metadata);
        return SafeTensors.ToBytes(edit(content.Tensors.ToList()), metadata);
    }

    [Theory]
    [InlineData(Squashing.ScaledTanh)]
    [InlineData(Squashing.Sigmoid)]
    public void SaveAndLoad_IsBitExactForEverySlice(Squashing squashing)
    {
        using var dir = new TempDirectory();
        var model = Trained(squashing);
        string path = dir.File("model.safetensors");
        ModelFile.Save(model, path);
        var loaded = ModelFile.Load(path);

        Assert.Equal(squashing, loaded.Squashing);
        Assert.Equal(model.Metadata, loaded.Metadata);
        foreach (var slice in ParameterLayout.Slices)
            Assert.True(model.Tensor(slice).SequenceEqual(loaded.Tensor(slice)), slice.Name);
        Assert.Equal(model.Parameters.Select(BitConverter.SingleToInt32Bits), loaded.Parameters.Select(BitConverter.SingleToInt32Bits));
        Assert.All(model.Parameters, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Save_IsAtomicAndOverwrites()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        File.WriteAllText(path, "old contents");
        ModelFile.Save(Trained(), path);
        ModelFile.Save(Trained(Squashing.Sigmoid), path);
        Assert.Equal(Squashing.Sigmoid, ModelFile.Load(path).Squashing);
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path)); // no temporary file left behind
    }

    [Fact]
    public void Load_FromAStream()
    {
        var model = Trained();
        using var stream = new MemoryStream(ModelFile.ToBytes(model));
        var loaded = ModelFile.Load(stream, "embedded:lenet.safetensors");
        Assert.Equal(model.Parameters, loaded.Parameters);
    }

    [Fact]
    public void Header_ReadIndependently_HasEverySliceWithItsShapeAndOffsets()
    {
        var file = ModelFile.ToBytes(Trained());
        var (header, data, length) = SafeTensorsFiles.Split(file);

        Assert.Equal(8 + length + 4 * ParameterLayout.Length, file.Length);
        Assert.Equal(4 * ParameterLayout.Length, data.Length);
        Assert.Equal(ParameterLayout.Slices.Count + 1, header.Count);
        foreach (var slice in ParameterLayout.Slices)
        {
            var entry = header[slice.Name]!;
            Assert.Equal("F32", (string?)entry["dtype"]);
            Assert.Equal(slice.Shape, entry["shape"]!.AsArray().Select(n => (int)n!));
            Assert.Equal(new[] { 4L * slice.Offset, 4L * slice.End }, entry["data_offsets"]!.AsArray().Select(n => (long)n!));
        }
        Assert.Equal(new[] { 16, 6, 5, 5 }, header["c3.weight"]!["shape"]!.AsArray().Select(n => (int)n!));

        var metadata = header["__metadata__"]!.AsObject();
        Assert.Equal("lenet-gpu", (string?)metadata["format"]);
        Assert.Equal("lenet5-v1", (string?)metadata["architecture"]);
        Assert.Equal("scaled-tanh", (string?)metadata["squashing"]);
        Assert.Equal("0.9812", (string?)metadata["accuracy"]);
        var table = JsonNode.Parse((string)metadata["connection_table"]!)!.AsArray();
        Assert.Equal(16, table.Count);
        Assert.Equal(new[] { 0, 1, 2 }, table[0]!.AsArray().Select(n => (int)n!));
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5 }, table[15]!.AsArray().Select(n => (int)n!));
    }

    [Fact]
    public void BadHeaderLength_IsRejected()
    {
        var file = ModelFile.ToBytes(Trained());
        BitConverter.TryWriteBytes(file.AsSpan(0, 8), (ulong)file.Length);
        Assert.Contains("header length", Fails(file).Message);
    }

    [Fact]
    public void TruncatedData_IsRejected()
    {
        Assert.Contains("truncated", Fails(ModelFile.ToBytes(Trained())[..^100]).Message);
    }

    [Fact]
    public void WrongShape_NamesTheTensorAndBothShapes()
    {
        var file = SafeTensorsFiles.EditHeader(ModelFile.ToBytes(Trained()),
            h => h["c3.weight"]!["shape"] = new JsonArray(16, 6, 25));
        Assert.Contains("tensor 'c3.weight' has shape [16, 6, 25], expected [16, 6, 5, 5]", Fails(file).Message);
    }

    [Fact]
    public void MissingTensor_IsRejected()
    {
        var file = Rewrite(Trained(), t => t.Where(x => x.Name != "output.bias").ToList());
        Assert.Contains("missing tensor 'output.bias'", Fails(file).Message);
    }

    [Fact]
    public void UnknownTensor_IsRejected()
    {
        var file = Rewrite(Trained(), t => [.. t, new SafeTensor("rbf.centres", [10, 84], new float[840])]);
        Assert.Contains("unknown tensor 'rbf.centres'", Fails(file).Message);
    }

    [Fact]
    public void UnknownDtype_IsRejected()
    {
        var file = SafeTensorsFiles.EditHeader(ModelFile.ToBytes(Trained()), h => h["f6.bias"]!["dtype"] = "BF16");
        Assert.Contains("tensor 'f6.bias' has dtype BF16", Fails(file).Message);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void NonFiniteValue_IsRejectedWithItsPlace(float value, string shown)
    {
        var model = Trained();
        model.Tensor(ParameterLayout.F6Weight)[12 * 120 + 7] = value;
        var message = Fails(ModelFile.ToBytes(model)).Message;
        Assert.Contains("tensor 'f6.weight' holds", message);
        Assert.Contains(shown, message);
        Assert.Contains("[12, 7]", message);
    }

    [Fact]
    public void NonZeroMaskedC3Entry_IsRejected()
    {
        Assert.False(ConnectionTable.IsConnected(0, 3));
        var model = Trained();
        model.Tensor(ParameterLayout.C3Weight)[(0 * 6 + 3) * 25 + 1 * 5 + 2] = 0.25f;
        var message = Fails(ModelFile.ToBytes(model)).Message;
        Assert.Contains("'c3.weight' holds 0.25 at [0, 3, 1, 2]", message);
        Assert.Contains("C3 map 0 is not connected to S2 map 3", message);
    }

    [Fact]
    public void MetadataProblems_AreRejected()
    {
        var model = Trained();
        Assert.Contains("unknown squashing function 'relu'",
            Fails(Rewrite(model, t => t, m => m["squashing"] = "relu")).Message);
        Assert.Contains("no 'format' in the metadata",
            Fails(Rewrite(model, t => t, m => m.Remove("format"))).Message);
        Assert.Contains("architecture 'lenet5-rbf' is not supported",
            Fails(Rewrite(model, t => t, m => m["architecture"] = "lenet5-rbf")).Message);
        Assert.Contains("connection_table",
            Fails(Rewrite(model, t => t, m => m["connection_table"] = "[[0,1,2]]")).Message);
    }

    [Fact]
    public void ReservedMetadataKeys_CannotBeSaved()
    {
        var model = Trained();
        model.Metadata["format"] = "mine";
        Assert.Throws<ArgumentException>(() => ModelFile.ToBytes(model));
    }

    // ---------------------------------------------------------------- convolutions: linear (absent) or squashed

    [Theory]
    [InlineData(Squashing.ScaledTanh, OutputLayer.Softmax)]
    [InlineData(Squashing.Sigmoid, OutputLayer.Rbf)]
    public void SquashedConvolutions_RoundTrip_AndAreNamedInTheFile(Squashing squashing, OutputLayer output)
    {
        var model = LeNetModel.CreateRandom(seed: 77, squashing, output: output, convolutions: ConvolutionSquashing.Squashed);
        model.Metadata["dataset"] = "digits";
        var bytes = ModelFile.ToBytes(model);
        Assert.Equal("squashed", SafeTensors.Parse(bytes, "mem").Metadata[ModelFile.ConvolutionsKey]);

        var loaded = ModelFile.FromBytes(bytes, "squashed.safetensors");
        Assert.Equal(ConvolutionSquashing.Squashed, loaded.Convolutions);
        Assert.Equal(squashing, loaded.Squashing);
        Assert.Equal(output, loaded.Output);
        Assert.Equal(model.Parameters, loaded.Parameters);
        // The key belongs to the file, not to the model's provenance; saving the loaded model gives the same bytes.
        Assert.Equal(model.Metadata, loaded.Metadata);
        Assert.False(loaded.Metadata.ContainsKey(ModelFile.ConvolutionsKey));
        Assert.Equal(bytes, ModelFile.ToBytes(loaded));
    }

    [Fact]
    public void LinearConvolutions_WriteNoKey_SoTheFileIsWhatItWasBeforeTheChoice()
    {
        var model = Trained();
        var explicitLinear = new LeNetModel(model.Squashing, (float[])model.Parameters.Clone(), model.Output, ConvolutionSquashing.Linear);
        foreach (var (k, v) in model.Metadata) explicitLinear.Metadata[k] = v;
        var bytes = ModelFile.ToBytes(model);
        Assert.Equal(bytes, ModelFile.ToBytes(explicitLinear));
        Assert.False(SafeTensors.Parse(bytes, "mem").Metadata.ContainsKey(ModelFile.ConvolutionsKey));
        var (header, _, _) = SafeTensorsFiles.Split(bytes);
        Assert.Equal(["accuracy", "architecture", "connection_table", "dataset", "epochs", "format", "output", "seed", "squashing"],
            header["__metadata__"]!.AsObject().Select(kv => kv.Key).Order(StringComparer.Ordinal));

        // The same weights squashed differ from it only by the key: take it out and the linear file's bytes come back.
        var squashed = new LeNetModel(model.Squashing, (float[])model.Parameters.Clone(), model.Output, ConvolutionSquashing.Squashed);
        foreach (var (k, v) in model.Metadata) squashed.Metadata[k] = v;
        var squashedBytes = ModelFile.ToBytes(squashed);
        Assert.NotEqual(bytes, squashedBytes);
        Assert.Equal(bytes, Rewrite(squashed, t => t, m => m.Remove(ModelFile.ConvolutionsKey)));
    }

    /// <summary>
    /// Every shipped model but the two of the paper's recipe (retrained with C1 and C3 squashed) was written before the
    /// choice existed: none of them says <c>convolutions</c> and all load as linear; the paper's two say squashed. Those
    /// written by the current writer (the ones that say <c>output</c>, which the first two predate) come out of it again
    /// byte for byte: a linear model's file did not change, and the key is written as it is read.
    /// </summary>
    [Fact]
    public void ShippedFiles_SayConvolutionsOnlyWhenSquashed_AndRewriteToTheSameBytes()
    {
        var names = typeof(ShippedModels).Assembly.GetManifestResourceNames().Where(n => n.EndsWith(".safetensors")).ToList();
        Assert.Equal(ShippedModels.Names.Select(n => $"LeNet.Gpu.Shipped.{n}.safetensors").Order(), names.Order());
        int rewritten = 0;
        foreach (var name in names)
        {
            using var stream = typeof(ShippedModels).Assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var original = copy.ToArray();
            bool squashed = name == $"LeNet.Gpu.Shipped.{ShippedModels.Paper}.safetensors"
                || name == $"LeNet.Gpu.Shipped.{ShippedModels.PaperDistorted}.safetensors";
            var metadata = SafeTensors.Parse(original, name).Metadata;
            if (squashed) Assert.Equal("squashed", metadata[ModelFile.ConvolutionsKey]);
            else Assert.False(metadata.ContainsKey(ModelFile.ConvolutionsKey), name);
            var model = ModelFile.FromBytes(original, name);
            Assert.Equal(squashed ? ConvolutionSquashing.Squashed : ConvolutionSquashing.Linear, model.Convolutions);
            if (metadata.ContainsKey(ModelFile.OutputKey))
            {
                Assert.True(original.AsSpan().SequenceEqual(ModelFile.ToBytes(model)), $"{name}: rewritten bytes differ");
                rewritten++;
            }
        }
        Assert.True(rewritten >= 3, $"only {rewritten} shipped files carry the current writer's keys");
    }

    [Fact]
    public void AFileWithoutTheKey_OrSayingLinear_LoadsAsLinear()
    {
        var squashed = LeNetModel.CreateRandom(seed: 78, convolutions: ConvolutionSquashing.Squashed);
        Assert.Equal(ConvolutionSquashing.Linear,
            ModelFile.FromBytes(Rewrite(squashed, t => t, m => m.Remove(ModelFile.ConvolutionsKey)), "absent").Convolutions);
        Assert.Equal(ConvolutionSquashing.Linear,
            ModelFile.FromBytes(Rewrite(squashed, t => t, m => m[ModelFile.ConvolutionsKey] = "linear"), "linear").Convolutions);
        Assert.Equal(ConvolutionSquashing.Squashed, ModelFile.FromBytes(ModelFile.ToBytes(squashed), "squashed").Convolutions);
    }

    [Fact]
    public void UnknownConvolutions_AreRefusedNamingTheKeyAndTheValue()
    {
        var message = Fails(Rewrite(Trained(), t => t, m => m[ModelFile.ConvolutionsKey] = "bogus")).Message;
        Assert.Contains("unknown convolutions 'bogus'", message);
        Assert.Contains("expected linear or squashed", message);
        Assert.Contains("unknown convolutions ''", Fails(Rewrite(Trained(), t => t, m => m[ModelFile.ConvolutionsKey] = "")).Message);
    }

    [Fact]
    public void ConvolutionsKey_IsReserved()
    {
        Assert.Contains(ModelFile.ConvolutionsKey, ModelFile.ReservedKeys);
        var model = Trained();
        model.Metadata[ModelFile.ConvolutionsKey] = "squashed";
        Assert.Throws<ArgumentException>(() => ModelFile.ToBytes(model));
    }
}
