using LeNet.Gpu.Interop;
using LeNet.Gpu.Model;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Interop;

/// <summary>
/// The exported ONNX file judged by the ONNX project's own Python checker (full check: the model's structure, every
/// node against its operator schema at opset 17, and strict shape inference), where Debian's python3-onnx is
/// installed. ONNX Runtime (<see cref="OnnxExportTests"/>) runs the model; this is the format's reference validator.
/// </summary>
public sealed class OnnxCheckerTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private const string Check = """
        import sys
        import onnx
        from onnx import checker, shape_inference
        model = onnx.load(sys.argv[1])
        checker.check_model(model, full_check=True)
        inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        def dims(value):
            return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        print("ir", model.ir_version, "opset", max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))
        for value in list(inferred.graph.input) + list(inferred.graph.output):
            print(value.name, onnx.TensorProto.DataType.Name(value.type.tensor_type.elem_type), dims(value))
        print("metadata", " ".join(f"{p.key}={p.value}" for p in model.metadata_props if p.key in ("format", "squashing", "convolutions")))
        """;

    [SkippableTheory]
    [InlineData(Squashing.ScaledTanh, ConvolutionSquashing.Linear)]
    [InlineData(Squashing.Sigmoid, ConvolutionSquashing.Linear)]
    [InlineData(Squashing.ScaledTanh, ConvolutionSquashing.Squashed)]
    [InlineData(Squashing.Sigmoid, ConvolutionSquashing.Squashed)]
    public void Exported_model_passes_the_onnx_checker_with_full_shape_inference(Squashing squashing, ConvolutionSquashing convolutions)
    {
        string? python = Python.With("onnx");
        Skip.If(python is null, Python.Missing(["onnx"], "apt-get install python3-onnx (CI does)"));
        string path = dir.File("lenet.onnx");
        OnnxExport.Save(LeNetModel.CreateRandom(3, squashing, convolutions: convolutions), path);

        var (code, stdout, stderr) = Python.Run(python!, ["-c", Check, path]);
        Assert.True(code == 0, $"onnx.checker refused the export:\n{stderr}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string squash = squashing == Squashing.Sigmoid ? "sigmoid" : "scaled-tanh";
        string squashed = convolutions == ConvolutionSquashing.Squashed ? " convolutions=squashed" : "";
        Assert.Equal(
            ["ir 8 opset 17", "image FLOAT ['N', 1, 32, 32]", "probabilities FLOAT ['N', 10]", "logits FLOAT ['N', 10]",
             $"metadata format=lenet-gpu squashing={squash}{squashed}"],
            lines);
    }
}
