using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Cli;
using LeNet.Gpu.Tests.Data;
using Onnx;
using Xunit;

namespace LeNet.Gpu.Tests.Interop;

/// <summary>
/// <c>lenet export</c> end to end: the CLI built beside the tests (same configuration) runs as a process, as a
/// user runs it. About half a second per run, most of it .NET starting.
/// </summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private (int ExitCode, string Stdout, string Stderr) Lenet(params string[] arguments)
    {
        var r = LenetProcess.Run(dir.Path, arguments);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    private string SavedModel(Squashing squashing, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear)
    {
        var model = LeNetModel.CreateRandom(21, squashing, convolutions: convolutions);
        model.Metadata["dataset"] = "digits";
        string path = dir.File("model.safetensors");
        ModelFile.Save(model, path);
        return path;
    }

    [Fact]
    public void Export_OnnxAndSafetensors_FromAModelFile()
    {
        string source = SavedModel(Squashing.Sigmoid);
        string onnx = dir.File("m.onnx"), weights = dir.File("copy.safetensors");

        var (code, stdout, stderr) = Lenet("export", "--onnx", onnx, "--safetensors", weights, "--model", source);

        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Equal("", stderr);
        Assert.Contains($"wrote {onnx} (onnx,", stdout);
        using (var session = new OnnxModel(File.ReadAllBytes(onnx)))
        {
            Assert.Equal("sigmoid", session.Session.ModelMetadata.CustomMetadataMap["squashing"]);
            Assert.Equal("digits", session.Session.ModelMetadata.CustomMetadataMap["dataset"]);
        }
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(weights)); // same model, same bytes
        Assert.Equal(OnnxExport(source), File.ReadAllBytes(onnx));
    }

    [Fact]
    public void Export_OfAModelFileWithSquashedConvolutions_KeepsThem()
    {
        string source = SavedModel(Squashing.ScaledTanh, ConvolutionSquashing.Squashed);
        string onnx = dir.File("m.onnx");

        var (code, _, stderr) = Lenet("export", "--onnx", onnx, "--model", source);

        Assert.True(code == 0, $"exit {code}: {stderr}");
        using (var session = new OnnxModel(File.ReadAllBytes(onnx)))
            Assert.Equal("squashed", session.Session.ModelMetadata.CustomMetadataMap["convolutions"]);
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx));
        Assert.Contains(proto.Graph.Node, n => n.Name == "c1.squashed");
        Assert.Contains(proto.Graph.Node, n => n.Name == "c3.squashed");
        Assert.Equal(OnnxExport(source), File.ReadAllBytes(onnx));
    }

    private static byte[] OnnxExport(string modelPath) => Gpu.Interop.OnnxExport.ToBytes(ModelFile.Load(modelPath));

    /// <summary>Exit code 1 and exactly one line on stderr, "lenet: …" naming <paramref name="target"/>, no stack trace.</summary>
    private static void AssertFailsNaming(string target, (int ExitCode, string Stdout, string Stderr) run)
    {
        Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}, expected 1; stderr: {run.Stderr}");
        Assert.Equal("", run.Stdout);
        string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("lenet: cannot write ", line);
        Assert.Contains(target, line);
        Assert.DoesNotContain(" at ", line);
    }

    [Fact]
    public void Export_IntoAMissingDirectory_IsOneLineNamingThePath_Exit1()
    {
        string source = SavedModel(Squashing.ScaledTanh);
        string target = Path.Combine(dir.Path, "missing", "m.onnx");
        AssertFailsNaming(target, Lenet("export", "--onnx", target, "--model", source));
        Assert.Equal([source], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Export_OverADirectory_IsOneLineNamingThePath_Exit1()
    {
        // An existing directory cannot be replaced by a file; unlike a folder without write permission, this fails even for root.
        string source = SavedModel(Squashing.ScaledTanh);
        string target = Directory.CreateDirectory(dir.File("taken.onnx")).FullName;
        AssertFailsNaming(target, Lenet("export", "--safetensors", target, "--model", source));
        Assert.Equal([source, target], Directory.GetFileSystemEntries(dir.Path).Order()); // no temporary file left behind
    }

    [SkippableFact]
    public void Export_IntoAReadOnlyLocation_IsOneLineNamingThePath_Exit1()
    {
        // Permission bits do not stop root (tests here run as root), but nobody may create files in sysfs.
        Skip.IfNot(OperatingSystem.IsLinux() && Directory.Exists("/sys/kernel"), "needs Linux's /sys as a location no one can write");
        string target = "/sys/lenet-export-test.onnx";
        AssertFailsNaming(target, Lenet("export", "--onnx", target, "--model", SavedModel(Squashing.ScaledTanh)));
    }

    [Fact]
    public void Export_WithNothingToWrite_IsAUsageError_Exit2()
    {
        var (code, _, stderr) = Lenet("export", "--model", SavedModel(Squashing.ScaledTanh));
        Assert.Equal(2, code);
        Assert.Contains("--onnx", stderr);
    }
}
