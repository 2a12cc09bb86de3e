using System.CommandLine;
using System.Diagnostics;
using LeNet.Gpu.Model;
using LeNet.Gpu.Data;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Serialization;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

public static class EvalCommand
{
    public static Command Create()
    {
        var model = Common.Model();
        var dataset = Common.Dataset();
        var data = Common.DataDirectory();
        var device = Common.Device();
        var json = Common.Json();
        var confusionPng = new Option<string?>("--confusion-png") { Description = "write the confusion matrix as a PNG" };
        var errorsPng = new Option<string?>("--errors-png") { Description = "write the misclassified images as a PNG" };
        var command = new Command("eval", "Accuracy, per-class precision and recall, confusion matrix and throughput on a test set")
        {
            model, dataset, data, device, json, confusionPng, errorsPng,
        };
        command.SetAction(parse => Common.Run(() =>
        {
            var deviceKind = Common.ParseDevice(parse.GetValue(device)!);
            var network = ShippedModels.Resolve(parse.GetValue(model)!);
            string fallback = Provenance.TrainedOn(network.Metadata) ?? DataCatalog.Digits;
            string? dataPath = parse.GetValue(data), named = parse.GetValue(dataset) ?? (dataPath is null ? fallback : null);
            new OutputPaths().Input("--model", parse.GetValue(model)).Dataset("--data", dataPath).Dataset("--dataset", Common.DatasetPath(named))
                .Output("--confusion-png", parse.GetValue(confusionPng)).Output("--errors-png", parse.GetValue(errorsPng)).Check();
            var (test, dataName) = Common.LoadTestData(parse.GetValue(dataset), parse.GetValue(data), fallback);

            using var engine = Engines.CreateInferenceFor(network, test.Count, deviceKind);
            engine.Predict(test.Images.AsSpan(0, Math.Min(test.Count, 16) * Architecture.InputLength)); // first launches
            var clock = Stopwatch.StartNew();
            var prediction = engine.Predict(test.Images);
            double seconds = clock.Elapsed.TotalSeconds;
            var report = new EvaluationReport(test, prediction.Classes);

            if (parse.GetValue(json))
            {
                Common.WriteJson(new
                {
                    model = parse.GetValue(model),
                    dataset = dataName,
                    device = engine.Device.Kind.ToName(),
                    device_name = engine.Device.Name,
                    accuracy = report.Accuracy,
                    correct = report.Correct,
                    total = report.Total,
                    images_per_second = test.Count / seconds,
                    classes = test.ClassNames,
                    precision = report.Precision,
                    recall = report.Recall,
                    confusion = report.Confusion,
                });
            }
            else
            {
                AnsiConsole.MarkupLine($"model [bold]{Markup.Escape(Common.Shown(parse.GetValue(model)!))}[/] on [bold]{Markup.Escape(Common.Shown(dataName))}[/] test set, {Markup.Escape(engine.Device.ToString())}");
                var perClass = new Table().AddColumns("Class", "Images", "Precision", "Recall");
                for (int c = 0; c < report.Classes; c++)
                    perClass.AddRow(Markup.Escape(test.ClassNames[c]), report.Support[c].ToString(), $"{report.Precision[c]:P1}", $"{report.Recall[c]:P1}");
                AnsiConsole.Write(perClass);
                var confusion = new Table().Title("confusion (rows: true class, columns: predicted)");
                confusion.AddColumn("");
                for (int c = 0; c < report.Classes; c++) confusion.AddColumn(new TableColumn(c.ToString()).RightAligned());
                for (int t = 0; t < report.Classes; t++)
                    confusion.AddRow(new[] { t.ToString() }.Concat(Enumerable.Range(0, report.Classes).Select(p =>
                        p == t ? $"[green]{report.Confusion[t][p]}[/]" : report.Confusion[t][p] == 0 ? "[grey]0[/]" : $"[red]{report.Confusion[t][p]}[/]")).ToArray());
                AnsiConsole.Write(confusion);
                AnsiConsole.MarkupLine($"accuracy [bold]{report.Accuracy:P2}[/] ({report.Correct}/{report.Total}), {test.Count / seconds:N0} images/s");
            }
            if (parse.GetValue(confusionPng) is { } confusionPath)
                Plots.ConfusionMatrix(report.Confusion, test.ClassNames, confusionPath);
            if (parse.GetValue(errorsPng) is { } errorsPath)
                Plots.Misclassified(test, prediction.Classes, errorsPath);
            return ExitCodes.Success;
        }));
        return command;
    }
}

/// <summary>Accuracy, the confusion matrix [true][predicted], and per-class precision and recall.</summary>
public sealed class EvaluationReport
{
    public int Classes { get; }
    public int Total { get; }
    public int Correct { get; }
    public double Accuracy => (double)Correct / Total;
    public int[][] Confusion { get; }
    public int[] Support { get; }
    public double[] Precision { get; }
    public double[] Recall { get; }

    public EvaluationReport(Dataset test, int[] predicted)
    {
        Classes = test.ClassCount;
        Total = test.Count;
        Confusion = Enumerable.Range(0, Classes).Select(_ => new int[Classes]).ToArray();
        for (int i = 0; i < Total; i++) Confusion[test.Labels[i]][predicted[i]]++;
        Correct = Enumerable.Range(0, Classes).Sum(c => Confusion[c][c]);
        Support = Confusion.Select(row => row.Sum()).ToArray();
        Recall = Enumerable.Range(0, Classes).Select(c => Support[c] == 0 ? 0 : (double)Confusion[c][c] / Support[c]).ToArray();
        Precision = Enumerable.Range(0, Classes).Select(c =>
        {
            int predictedAs = Confusion.Sum(row => row[c]);
            return predictedAs == 0 ? 0 : (double)Confusion[c][c] / predictedAs;
        }).ToArray();
    }
}
