using System.CommandLine;
using System.Globalization;
using LeNet.Gpu.Data;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Cli.Commands;

public static class VisualizeCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("image") { Description = "an image of one digit (PNG, JPEG, …)" };
        var output = new Option<string>("--out")
        {
            Description = "the PNG to write (layer names, map indices, a colour scale per layer)",
            Required = true,
        };
        var model = Common.Model();
        var device = Common.Device();
        var command = new Command("visualize", "Draw every layer's feature maps for one image as a PNG")
        {
            image, output, model, device,
        };
        command.SetAction(parse => Common.Run(() =>
        {
            var deviceKind = Common.ParseDevice(parse.GetValue(device)!);
            string path = parse.GetValue(image)!, outPath = parse.GetValue(output)!;
            string modelName = parse.GetValue(model)!;
            new OutputPaths().Input("IMAGE", path).Input("--model", modelName).Output("--out", outPath).Check();
            var network = ShippedModels.Resolve(modelName);
            var classNames = Provenance.ClassNames(network.Metadata);
            var input = ImageLoader.Load(path);
            FeatureMaps maps;
            string deviceName;
            // Batch of one: the trace reads every layer back, so a large batch would copy mostly empty slots.
            using (var engine = Engines.CreateInferenceFor(network, 1, deviceKind))
            {
                maps = FeatureMaps.From(engine.Trace(input));
                deviceName = engine.Device.Kind.ToName();
            }
            string shownModel = File.Exists(modelName) ? Path.GetFileName(modelName) : modelName;
            string title = string.Create(CultureInfo.InvariantCulture,
                $"{Path.GetFileName(path)}: predicted {classNames[maps.Class]} ({maps.Probabilities[maps.Class]:P1}) by {shownModel} on {deviceName}");
            FeatureMapPicture.Save(maps, classNames, title, outPath);
            Console.Out.WriteLine($"{title}; feature maps written to {Common.Shown(outPath)}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
