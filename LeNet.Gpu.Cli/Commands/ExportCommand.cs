using System.CommandLine;
using LeNet.Gpu.Interop;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Cli.Commands;

/// <summary>
/// <c>lenet export --onnx FILE [--safetensors FILE] [--model NAME|FILE]</c>: the model as ONNX (standard operators,
/// opset 17, dynamic batch) and/or as its PyTorch-compatible safetensors weights (see docs/pytorch.md).
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = Common.Model();
        var onnx = new Option<string?>("--onnx") { Description = "write the model as ONNX (opset 17; input 'image' [N,1,32,32], output 'probabilities' [N,10])" };
        var safetensors = new Option<string?>("--safetensors") { Description = "write the model's weights as safetensors, named and shaped as PyTorch's state_dict (docs/pytorch.md)" };
        var json = Common.Json();
        var command = new Command("export", "Write a model as ONNX or as PyTorch-compatible safetensors weights") { onnx, safetensors, model, json };
        command.SetAction(parse => Common.Run(() =>
        {
            string? onnxPath = parse.GetValue(onnx), weightsPath = parse.GetValue(safetensors);
            if (onnxPath is null && weightsPath is null)
                throw new UsageException("nothing to export: give --onnx FILE and/or --safetensors FILE");
            if (onnxPath is { Length: 0 } || weightsPath is { Length: 0 })
                throw new UsageException("an empty path was given for --onnx or --safetensors");
            if (onnxPath is not null && weightsPath is not null
                && Path.GetFullPath(onnxPath) == Path.GetFullPath(weightsPath))
                throw new UsageException($"--onnx and --safetensors name the same file {onnxPath}");

            string name = parse.GetValue(model)!;
            new OutputPaths().Input("--model", name).Output("--onnx", onnxPath).Output("--safetensors", weightsPath).Check();
            var network = ShippedModels.Resolve(name);
            var written = new List<(string Format, string Path, long Bytes)>();
            if (onnxPath is not null)
            {
                OnnxExport.Save(network, onnxPath);
                written.Add(("onnx", onnxPath, new FileInfo(onnxPath).Length));
            }
            if (weightsPath is not null)
            {
                ModelFile.Save(network, weightsPath);
                written.Add(("safetensors", weightsPath, new FileInfo(weightsPath).Length));
            }

            if (parse.GetValue(json))
                Common.WriteJson(new
                {
                    model = name,
                    squashing = network.Squashing.ToName(),
                    output_layer = network.Output.ToName(),
                    convolutions = network.Convolutions.ToName(),
                    files = written.Select(w => new { format = w.Format, path = w.Path, bytes = w.Bytes }),
                });
            else
                foreach (var (format, path, bytes) in written)
                    Console.WriteLine($"wrote {Common.Shown(path)} ({format}, {bytes:N0} bytes)");
            return ExitCodes.Success;
        }));
        return command;
    }
}
