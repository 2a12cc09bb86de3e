using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Serialization;
using SkiaSharp;

namespace LeNet.Gpu.Cli;

/// <summary>PNG pictures the CLI writes: training curves (ScottPlot), confusion matrix and misclassified images (Skia).</summary>
public static class Plots
{
    /// <summary>Loss (left axis) and accuracy in % (right axis) per epoch, training and, if held out, validation.</summary>
    public static void TrainingCurves(IReadOnlyList<EpochResult> history, string path)
    {
        double[] epochs = history.Select(r => (double)r.Epoch).ToArray();
        bool validation = history.All(r => r.Validation is not null);
        var plot = new ScottPlot.Plot();
        plot.Add.Scatter(epochs, history.Select(r => r.Train.Loss).ToArray()).LegendText = "training loss";
        if (validation)
            plot.Add.Scatter(epochs, history.Select(r => r.Validation!.Value.Loss).ToArray()).LegendText = "validation loss";
        var trainAccuracy = plot.Add.Scatter(epochs, history.Select(r => 100 * r.Train.Accuracy).ToArray());
        trainAccuracy.LegendText = "training accuracy (%)";
        trainAccuracy.Axes.YAxis = plot.Axes.Right;
        if (validation)
        {
            var validationAccuracy = plot.Add.Scatter(epochs, history.Select(r => 100 * r.Validation!.Value.Accuracy).ToArray());
            validationAccuracy.LegendText = "validation accuracy (%)";
            validationAccuracy.Axes.YAxis = plot.Axes.Right;
        }
        plot.Title("LeNet-5 training");
        plot.XLabel("epoch");
        plot.YLabel("cross-entropy loss");
        plot.Axes.Right.Label.Text = "accuracy (%)";
        plot.ShowLegend(ScottPlot.Alignment.MiddleRight);
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(900, 480, ScottPlot.ImageFormat.Png));
    }

    /// <summary>
    /// Training and test error (%) against passes, as the paper's Fig. 5 draws them; the training error is the running
    /// error of each pass (measured as the weights changed), the test error that of the weights after the pass.
    /// </summary>
    public static void ErrorCurves(IReadOnlyList<EpochResult> history, IReadOnlyList<double> testErrors, string path)
    {
        double[] passes = history.Select(r => (double)r.Epoch).ToArray();
        var plot = new ScottPlot.Plot();
        var training = plot.Add.Scatter(passes, history.Select(r => 100 * (1 - r.Train.Accuracy)).ToArray());
        training.LegendText = "training error (during the pass)";
        var test = plot.Add.Scatter(passes, testErrors.Select(e => 100 * e).ToArray());
        test.LegendText = "test error";
        plot.Title("LeNet-5, the paper's recipe: error against training passes (cf. Fig. 5)");
        plot.XLabel("training set iterations (passes)");
        plot.YLabel("error rate (%)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(900, 480, ScottPlot.ImageFormat.Png));
    }

    public static void ConfusionMatrix(int[][] confusion, IReadOnlyList<string> classNames, string path)
    {
        int n = confusion.Length, cell = 44, margin = 120;
        using var surface = SKSurface.Create(new SKImageInfo(margin + n * cell + 20, margin + n * cell + 20));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = new SKFont(SKTypeface.Default, 12);
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        int max = Math.Max(1, confusion.SelectMany(r => r).Max());
        for (int t = 0; t < n; t++)
        {
            canvas.DrawText(classNames[t], 8, margin + t * cell + cell / 2 + 4, font, text);
            canvas.Save();
            canvas.RotateDegrees(-60, margin + t * cell + cell / 2, margin - 6);
            canvas.DrawText(classNames[t], margin + t * cell + cell / 2, margin - 6, font, text);
            canvas.Restore();
            for (int p = 0; p < n; p++)
            {
                // Diagonal in blue, errors in red, shade by count (log-ish so rare errors stay visible).
                double shade = Math.Sqrt((double)confusion[t][p] / max);
                byte v = (byte)(255 - 200 * shade);
                using var fill = new SKPaint { Color = t == p ? new SKColor(v, v, 255) : new SKColor(255, v, v) };
                canvas.DrawRect(margin + p * cell, margin + t * cell, cell - 1, cell - 1, fill);
                canvas.DrawText(confusion[t][p].ToString(), margin + p * cell + 6, margin + t * cell + cell / 2 + 4, font, text);
            }
        }
        canvas.DrawText("rows: true class, columns: predicted", 8, 16, font, text);
        Save(surface, path);
    }

    public static void Misclassified(Dataset test, int[] predicted, string path, int limit = 200)
    {
        var wrong = Enumerable.Range(0, test.Count).Where(i => predicted[i] != test.Labels[i]).Take(limit).ToList();
        int columns = 20, scale = 2, side = InputField.Size, tile = side * scale + 16;
        int rows = Math.Max(1, (wrong.Count + columns - 1) / columns);
        using var surface = SKSurface.Create(new SKImageInfo(columns * tile, rows * tile + 20));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = new SKFont(SKTypeface.Default, 10);
        using var text = new SKPaint { Color = SKColors.DarkRed, IsAntialias = true };
        canvas.DrawText($"{wrong.Count} misclassified (label→predicted)", 4, 14, font, new SKPaint { Color = SKColors.Black });
        for (int k = 0; k < wrong.Count; k++)
        {
            int i = wrong[k], x0 = k % columns * tile, y0 = 20 + k / columns * tile;
            var image = test.Image(i);
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    // InputField's scale, −0.1 (background) … 1.175 (ink) → white … black.
                    double ink = Math.Clamp(InputField.InkFraction(image[y * side + x]), 0, 1);
                    byte g = (byte)(255 - 255 * ink);
                    using var paint = new SKPaint { Color = new SKColor(g, g, g) };
                    canvas.DrawRect(x0 + x * scale, y0 + y * scale, scale, scale, paint);
                }
            canvas.DrawText($"{test.ClassNames[test.Labels[i]]}→{test.ClassNames[predicted[i]]}", x0, y0 + side * scale + 11, font, text);
        }
        Save(surface, path);
    }

    private static void Save(SKSurface surface, string path)
    {
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, data.AsSpan());
    }
}
