using System.CommandLine;
using LeNet.Gpu.Data;
using LeNet.Gpu.Runtime;
using LeNet.Gpu.Serialization;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

public static class PredictCommand
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "image files or folders of images", Arity = ArgumentArity.OneOrMore };
        var model = Common.Model();
        var device = Common.Device();
        var json = Common.Json();
        var command = new Command("predict", "Classify image files: grayscale, ink scaled into a 20×20 box, centred in 32×32") { paths, model, device, json };
        command.SetAction(parse => Common.Run(() =>
        {
            var deviceKind = Common.ParseDevice(parse.GetValue(device)!);
            var files = new List<string>();
            foreach (var path in parse.GetValue(paths)!)
            {
                if (path.Length == 0) throw new UsageException("an empty path was given for an image");
                if (Directory.Exists(path))
                    files.AddRange(Directory.EnumerateFiles(path).Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal));
                else if (File.Exists(path))
                    files.Add(path);
                else
                    throw new FileNotFoundException($"{path}: no such file or folder");
            }
            if (files.Count == 0)
                throw new ArgumentException($"no image files (png, jpg, jpeg, bmp, gif, webp) in {string.Join(", ", parse.GetValue(paths)!)}");

            var network = ShippedModels.Resolve(parse.GetValue(model)!);
            var classNames = network.Metadata.TryGetValue("dataset", out var ds) && ds == DataCatalog.Fashion ? ClassNames.Fashion : ClassNames.Digits;
            var images = new float[files.Count * InferenceEngine.ImageFloats];
            for (int i = 0; i < files.Count; i++)
                ImageLoader.Load(files[i]).CopyTo(images.AsSpan(i * InferenceEngine.ImageFloats));
            using var engine = Engines.CreateInference(network, deviceKind);
            var prediction = engine.Predict(images);

            if (parse.GetValue(json))
            {
                Common.WriteJson(files.Select((f, i) => new
                {
                    file = f,
                    @class = prediction.Classes[i],
                    label = classNames[prediction.Classes[i]],
                    probability = prediction.ProbabilitiesOf(i)[prediction.Classes[i]],
                    probabilities = prediction.ProbabilitiesOf(i).ToArray(),
                }));
                return ExitCodes.Success;
            }
            var table = new Table().AddColumns("File", "Class", "Probability");
            for (int i = 0; i < files.Count; i++)
                table.AddRow(Markup.Escape(files[i]), Markup.Escape(classNames[prediction.Classes[i]]), $"{prediction.ProbabilitiesOf(i)[prediction.Classes[i]]:P1}");
            AnsiConsole.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }
}
