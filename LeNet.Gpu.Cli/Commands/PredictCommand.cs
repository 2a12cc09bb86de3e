using System.CommandLine;
using LeNet.Gpu.Model;
using LeNet.Gpu.Data;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Serialization;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

public static class PredictCommand
{
    /// <summary>Images predicted and written at a time.</summary>
    private const int Chunk = 256;

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
                    if (!File.Exists(path)) Report(errors, path, InputFile.NotFound(path, "file or folder"));
                }
            }
            if (files.Count == 0)
                throw new ArgumentException($"no image files (png, jpg, jpeg, bmp, gif, webp) in {string.Join(", ", parse.GetValue(paths)!)}");

            var network = ShippedModels.Resolve(parse.GetValue(model)!);
            var classNames = Provenance.ClassNames(network.Metadata);
            bool asJson = parse.GetValue(json);
            IInferenceEngine? engine = null;
            var rows = new Dictionary<string, PredictionRow>();
            try
            {
                // A chunk at a time, each table written as soon as it is predicted: `predict DIR | head -1` stops after
                // the first chunk once head has gone, instead of predicting the whole folder for nobody.
                foreach (var chunk in files.Chunk(Chunk))
                {
                    var readable = new List<(string File, float[] Image)>();
                    foreach (var file in chunk.Where(f => !errors.ContainsKey(f)))
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
                    if (readable.Count == 0) continue;
                    var images = new float[readable.Count * Architecture.InputLength];
                    for (int i = 0; i < readable.Count; i++) readable[i].Image.CopyTo(images.AsSpan(i * Architecture.InputLength));
                    engine ??= Engines.CreateInferenceFor(network, Math.Min(files.Count, Chunk), deviceKind);
                    var prediction = engine.Predict(images);
                    var table = new Table().AddColumns("File", "Class", "Probability");
                    for (int i = 0; i < readable.Count; i++)
                    {
                        int c = prediction.Classes[i];
                        var probabilities = prediction.ProbabilitiesOf(i).ToArray();
                        var row = rows[readable[i].File] = new PredictionRow(readable[i].File, c, classNames[c], probabilities[c], probabilities, null);
                        table.AddRow(Markup.Escape(Common.Shown(row.File)), Markup.Escape(Common.Shown(row.Label!)), $"{row.Probability:P1}");
                    }
                    if (!asJson) AnsiConsole.Write(table);
                    if (ConsoleStreams.OutputGone) break;
                }
            }
            finally
            {
                engine?.Dispose();
            }
            int status = errors.Count > 0 ? ExitCodes.Failure : ExitCodes.Success;
            if (asJson)
                Common.WriteJson(files.Where(f => rows.ContainsKey(f) || errors.ContainsKey(f))
                    .Select(f => rows.TryGetValue(f, out var row) ? row : new PredictionRow(f, null, null, null, null, errors[f])));
            return status;
        }));
        return command;
    }

    /// <summary>One line on stderr per file that cannot be read, as soon as it is found.</summary>
    private static void Report(Dictionary<string, string> errors, string file, string message)
    {
        errors[file] = message;
        Console.Error.WriteLine($"lenet: {Common.Shown(message)}");
    }

    /// <summary>One file's answer: its prediction, or (<see cref="Error"/>) why it could not be read.</summary>
    private sealed record PredictionRow(string File, int? Class, string? Label, float? Probability, float[]? Probabilities, string? Error);
}
