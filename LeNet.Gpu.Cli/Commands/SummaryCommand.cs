using System.CommandLine;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Cli.Commands;

public static class SummaryCommand
{
    public static Command Create()
    {
        var json = Common.Json();
        var model = new Option<string?>("--model") { Description = "show this model's squashing function, output layer and convolutions (file or shipped name)" };
        var outputLayer = new Option<string?>("--output-layer") { Description = "softmax | rbf (the paper's RBF units); default: the model's, else softmax" };
        var convolutions = new Option<string?>("--convolutions") { Description = "linear | squashed (C1 and C3 squash their sums, as the paper's); default: the model's, else linear" };
        var command = new Command("summary", "The layer table: output shapes, trainable parameters and connections") { json, model, outputLayer, convolutions };
        command.SetAction(parse => Common.Run(() =>
        {
            var name = parse.GetValue(model);
            var loaded = name is null ? null : ShippedModels.Resolve(name);
            var squashing = loaded?.Squashing ?? Squashing.ScaledTanh;
            OutputLayer output;
            ConvolutionSquashing convolutionKind;
            try
            {
                output = parse.GetValue(outputLayer) is { } text ? OutputLayerExtensions.ParseOutputLayer(text) : loaded?.Output ?? OutputLayer.Softmax;
                convolutionKind = parse.GetValue(convolutions) is { } c ? SquashingExtensions.ParseConvolutionSquashing(c) : loaded?.Convolutions ?? ConvolutionSquashing.Linear;
            }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            var layers = Architecture.LayersOf(output);
            if (parse.GetValue(json))
            {
                Common.WriteJson(new
                {
                    architecture = ModelFile.ArchitectureName,
                    squashing = squashing.ToName(),
                    output_layer = output.ToName(),
                    convolutions = convolutionKind.ToName(),
                    layers = layers.Select(l => new
                    {
                        name = l.Name, kind = l.Kind.ToString(), output_shape = l.OutputShape,
                        parameters = l.TrainableParameters, connections = l.Connections,
                    }),
                    total_parameters = layers.Sum(l => l.TrainableParameters),
                    total_connections = layers.Sum(l => l.Connections),
                });
                return ExitCodes.Success;
            }
            Console.Write(Architecture.Summary(squashing, output, convolutionKind));
            return ExitCodes.Success;
        }));
        return command;
    }
}
