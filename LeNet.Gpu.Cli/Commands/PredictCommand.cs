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
            // Each file stands alone: one that cannot be read is reported in one line and the others are still
            // predicted; the exit status says whether any failed.
            var files = new List<string>();
            var errors = new Dictionary<string, string>();
            foreach (var path in parse.GetValue(paths)!)
            {
                if (path.Length == 0) throw new UsageException("an empty path was given for an image");
                if (Directory.Exists(path))
                    files.AddRange(Directory.EnumerateFiles(path).Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal));
                else
                {
                    files.Add(path);
                    if (!File.Exists(path)) Report(errors, path, $"{path}: no such file or folder");
                }
            }
            if (files.Count == 0)
                throw new ArgumentException($"no image files (png, jpg, jpeg, bmp, gif, webp) in {string.Join(", ", parse.GetValue(paths)!)}");

            var network = ShippedModels.Resolve(parse.GetValue(model)!);
            var classNames = Provenance.ClassNames(network.Metadata);
            var readable = new List<(string File, float[] Image)>();
            foreach (var file in files.Where(f => !errors.ContainsKey(f)))
            {
                try
                {
                    readable.Add((file, ImageLoader.Load(file)));
                }
                catch (Exception e) when (e is DataFormatException or DataNotFoundException)
                {
                    Report(errors, file, e.Message);
                }
            }

            var rows = new Dictionary<string, PredictionRow>();
            if (readable.Count > 0)
            {
                var images = new float[readable.Count * IInferenceEngine.ImageFloats];
                for (int i = 0; i < readable.Count; i++) readable[i].Image.CopyTo(images.AsSpan(i * IInferenceEngine.ImageFloats));
                using var engine = Engines.CreateInferenceFor(network, readable.Count, deviceKind);
                var prediction = engine.Predict(images);
                for (int i = 0; i < readable.Count; i++)
                {
                    int c = prediction.Classes[i];
                    var probabilities = prediction.ProbabilitiesOf(i).ToArray();
                    rows[readable[i].File] = new PredictionRow(readable[i].File, c, classNames[c], probabilities[c], probabilities, null);
                }
            }
            int status = errors.Count > 0 ? ExitCodes.Failure : ExitCodes.Success;
            if (parse.GetValue(json))
            {
                Common.WriteJson(files.Select(f => rows.TryGetValue(f, out var row) ? row : new PredictionRow(f, null, null, null, null, errors[f])));
                return status;
            }
            var table = new Table().AddColumns("File", "Class", "Probability");
            foreach (var file in files.Where(rows.ContainsKey))
                table.AddRow(Markup.Escape(file), Markup.Escape(rows[file].Label!), $"{rows[file].Probability:P1}");
            if (rows.Count > 0) AnsiConsole.Write(table);
            return status;
        }));
        return command;
    }

    /// <summary>One line on stderr per file that cannot be read, as soon as it is found.</summary>
    private static void Report(Dictionary<string, string> errors, string file, string message)
    {
        errors[file] = message.ReplaceLineEndings(" ");
        Console.Error.WriteLine($"lenet: {errors[file]}");
    }

    /// <summary>One file's answer: its prediction, or (<see cref="Error"/>) why it could not be read.</summary>
    private sealed record PredictionRow(string File, int? Class, string? Label, float? Probability, float[]? Probabilities, string? Error);
}
