using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Interop;

/// <summary>
/// The weights file as PyTorch sees it (docs/pytorch.md): a round trip keeps every float's bits, a file whose
/// tensors do not match the documented state_dict is refused with one line naming the tensor and the shapes, and
/// the documentation's tensor table and Table I match the library.
/// </summary>
public sealed partial class PyTorchWeightsTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>Random weights plus values whose bits a careless writer would change: −0, subnormals, extremes.</summary>
    private static LeNetModel Awkward()
    {
        var model = LeNetModel.CreateRandom(31, Squashing.Sigmoid);
        var c1 = model.Tensor(ParameterLayout.C1Weight);
        c1[0] = -0f;
        c1[1] = float.Epsilon;
        c1[2] = -float.Epsilon;
        // Extremes a forward pass still carries: ±float.MaxValue would overflow C1 and be refused at load
        // (ModelFile's probe pass), so take the largest float of the exponent below it, 2^127·(2 − 2^−23)/2.
        c1[3] = BitConverter.Int32BitsToSingle(0x7EFF_FFFF);
        c1[4] = -BitConverter.Int32BitsToSingle(0x7EFF_FFFF);
        c1[5] = BitConverter.Int32BitsToSingle(0x007F_FFFF); // largest subnormal
        model.Tensor(ParameterLayout.OutputBias)[9] = BitConverter.Int32BitsToSingle(0x3F80_0001); // 1 + 1 ulp
        model.Metadata["dataset"] = "digits";
        model.Metadata["note"] = "weights with awkward bits";
        return model;
    }

    [Fact]
    public void ModelFile_WriteThenRead_KeepsEveryFloatsBits()
    {
        var model = Awkward();
        string path = dir.File("weights.safetensors");
        ModelFile.Save(model, path);
        var loaded = ModelFile.Load(path);

        Assert.Equal(model.Squashing, loaded.Squashing);
        Assert.Equal(model.Metadata, loaded.Metadata);
        var expected = model.Parameters.Select(BitConverter.SingleToInt32Bits).ToArray();
        var actual = loaded.Parameters.Select(BitConverter.SingleToInt32Bits).ToArray();
        int firstDifference = Enumerable.Range(0, expected.Length).FirstOrDefault(i => expected[i] != actual[i], -1);
        Assert.True(firstDifference < 0, $"parameter {firstDifference} changed bits");
        Assert.Equal(ModelFile.ToBytes(model), File.ReadAllBytes(path)); // and writing the loaded model again is byte-identical
        Assert.Equal(File.ReadAllBytes(path), ModelFile.ToBytes(loaded));
    }

    [Fact]
    public void Tensors_AreNamedAndShapedAsPyTorchStateDict_InOrder()
    {
        var content = SafeTensors.Parse(ModelFile.ToBytes(LeNetModel.CreateRandom(2)), "mem");
        string[] expected =
        [
            "c1.weight [6, 1, 5, 5]", "c1.bias [6]", "s2.coefficient [6]", "s2.bias [6]",
            "c3.weight [16, 6, 5, 5]", "c3.bias [16]", "s4.coefficient [16]", "s4.bias [16]",
            "c5.weight [120, 16, 5, 5]", "c5.bias [120]", "f6.weight [84, 120]", "f6.bias [84]",
            "output.weight [10, 84]", "output.bias [10]",
        ];
        Assert.Equal(expected, content.Tensors.Select(t => $"{t.Name} {t.ShapeText}"));
        Assert.Equal("lenet5-v1", content.Metadata["architecture"]);
    }

    /// <summary>The model's file with its tensors edited as a PyTorch user might get them wrong.</summary>
    private string Edited(Func<List<SafeTensor>, List<SafeTensor>> edit)
    {
        var content = SafeTensors.Parse(ModelFile.ToBytes(LeNetModel.CreateRandom(3)), "mem");
        string path = dir.File("edited.safetensors");
        File.WriteAllBytes(path, SafeTensors.ToBytes(edit(content.Tensors.ToList()), content.Metadata));
        return path;
    }

    private static string Refused(string path)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load(path));
        Assert.StartsWith($"{path}: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void WrongShape_IsRefused_NamingTheTensorAndBothShapes()
    {
        // A linear-style [120, 400] where the state_dict has the convolution's [120, 16, 5, 5].
        string path = Edited(ts => ts.Select(t => t.Name == "c5.weight" ? t with { Shape = [120, 400] } : t).ToList());
        Assert.Contains("tensor 'c5.weight' has shape [120, 400], expected [120, 16, 5, 5]", Refused(path));
    }

    [Fact]
    public void UnknownTensor_IsRefused_NamingItAndItsShape()
    {
        // E.g. a mask saved as a persistent buffer.
        string path = Edited(ts => [.. ts, new SafeTensor("c3_mask", [16, 6, 1, 1], new float[96])]);
        string message = Refused(path);
        Assert.Contains("unknown tensor 'c3_mask' of shape [16, 6, 1, 1]", message);
        Assert.Contains("c1.weight", message); // lists what LeNet-5 has
    }

    [Fact]
    public void MissingTensor_IsRefused_NamingItAndItsExpectedShape()
    {
        string path = Edited(ts => ts.Where(t => t.Name != "s4.coefficient").ToList());
        Assert.Contains("missing tensor 's4.coefficient' (expected shape [16])", Refused(path));
    }

    // ------------------------------------------------------------------ docs/pytorch.md matches the library

    private static string Documentation() => File.ReadAllText(Path.Combine(Support.Repository.Root, "docs", "pytorch.md"));

    [GeneratedRegex(@"^\| `([a-z0-9_.]+)` \| `(\[[0-9, ]+\])` \|", RegexOptions.Multiline)]
    private static partial Regex TensorRow();

    [GeneratedRegex(@"^CONNECTIONS = (\[.*\])$", RegexOptions.Multiline)]
    private static partial Regex ConnectionsLine();

    [Fact]
    public void Documentation_TensorTable_IsTheParameterLayout()
    {
        var rows = TensorRow().Matches(Documentation()).Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value}");
        Assert.Equal(ParameterLayout.Slices.Select(s => $"{s.Name} {SafeTensors.FormatShape(s.Shape)}"), rows);
    }

    [Fact]
    public void Documentation_ConnectionTable_IsTableI()
    {
        var match = ConnectionsLine().Match(Documentation());
        Assert.True(match.Success, "docs/pytorch.md has no 'CONNECTIONS = [...]' line");
        var documented = JsonSerializer.Deserialize<int[][]>(match.Groups[1].Value)!;
        Assert.Equal(Enumerable.Range(0, 16).Select(ConnectionTable.InputsOf), documented);
        Assert.Equal(ModelFile.ConnectionTableJson, JsonSerializer.Serialize(documented)); // what save_lenet writes
    }
}
