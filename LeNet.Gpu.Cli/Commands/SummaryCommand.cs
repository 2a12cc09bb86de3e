using System.CommandLine;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Cli.Commands;

public static class SummaryCommand
{
    public static Command Create()
    {
        var json = Common.Json();
        var model = new Option<string?>("--model") { Description = "show this model's squashing function (file or shipped name)" };
        var command = new Command("summary", "The layer table: output shapes, trainable parameters and connections") { json, model };
        command.SetAction(parse => Common.Run(() =>
        {
            var name = parse.GetValue(model);
            var squashing = name is null ? Squashing.ScaledTanh : ShippedModels.Resolve(name).Squashing;
            if (parse.GetValue(json))
            {
                Common.WriteJson(new
                {
                    architecture = ModelFile.ArchitectureName,
                    squashing = squashing.ToName(),
                    layers = Architecture.Layers.Select(l => new
                    {
                        name = l.Name, kind = l.Kind.ToString(), output_shape = l.OutputShape,
                        parameters = l.TrainableParameters, connections = l.Connections,
                    }),
                    total_parameters = Architecture.TotalTrainableParameters,
                    total_connections = Architecture.TotalConnections,
                });
                return ExitCodes.Success;
            }
            Console.Write(Architecture.Summary(squashing));
            return ExitCodes.Success;
        }));
        return command;
    }
}
