using System.Diagnostics;
using System.Text.Json;
using LeNet.Gpu.Tests.Cli;
using LeNet.Gpu.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace LeNet.Gpu.Tests.Web;

/// <summary>
/// The page of <c>lenet serve</c> in a real browser: Debian's Chromium, headless, driven by playwright-core from
/// e2e/ (e2e/draw-digit.mjs), draws digits stroke by stroke, a 1 with a finger (touch events) and a 7 with the
/// mouse, and reports what the page showed.
/// The model is trained here on OpenCV's digits so the test needs no shipped model.
/// </summary>
public sealed class BrowserTests(ITestOutputHelper output) : IDisposable
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>Feature-map tiles on the page: input 1, C1 6, S2 6, C3 16, S4 16, C5 1, F6 1.</summary>
    private const int Tiles = 47;

    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    /// <summary>The repository root: the test assembly sits in LeNet.Gpu.Tests/bin/&lt;config&gt;/&lt;tfm&gt;/.</summary>
    private static string Repository => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Parent!.Parent!.Parent!.FullName;

    private static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    [SkippableFact]
    public void Drawing_a_digit_shows_its_class_and_every_feature_map()
    {
        string e2e = Path.Combine(Repository, "e2e");
        Skip.IfNot(File.Exists(Chromium), $"{Chromium} is not installed (apt-get install -y chromium)");
        string? node = OnPath("node");
        Skip.If(node is null, "node is not on PATH (the browser test runs e2e/draw-digit.mjs with Node.js)");
        Skip.IfNot(Directory.Exists(Path.Combine(e2e, "node_modules", "playwright-core")),
            "playwright-core is not installed in e2e/node_modules (npm ci --prefix e2e)");
        Skip.If(RealData.DigitsPath is null, RealData.DigitsMissing);

        // A small model (about 84 % on the held-out digits, 1½ minutes here). The distortions matter more than the
        // accuracy: the page scales a drawing into a 20×20 box, larger than most digits in digits.png's 20×20 cells,
        // and a model trained without them takes a drawn 0 or 7 for a 3.
        var clock = Stopwatch.StartNew();
        var train = LenetProcess.Run(temp.Path, "train", "--dataset", "digits", "--optimizer", "adam", "--lr", "0.003",
            "--batch-size", "16", "--epochs", "4", "--distort", "--seed", "1", "--device", "cpu",
            "--output", "e2e-model.safetensors", "--no-progress");
        Assert.True(train.ExitCode == 0, train.Stderr);
        output.WriteLine($"trained the test model in {clock.Elapsed.TotalSeconds:0} s: {train.Stdout.Trim()}");

        using var server = new ServeProcess(temp.File("e2e-model.safetensors"));
        string screenshots = Path.Combine(Repository, "TestResults", "e2e");
        var start = new ProcessStartInfo(node!)
        {
            WorkingDirectory = e2e,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "draw-digit.mjs", "--url", server.BaseAddress.ToString(), "--digits", "1,7", "--screenshots", screenshots, "--chromium", Chromium })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the browser script ran over 4 minutes: {stderr.Result}");
        }
        Assert.True(process.ExitCode == 0, $"draw-digit.mjs exited {process.ExitCode}: {stderr.Result}\nserver: {server.Stderr}");

        using var json = JsonDocument.Parse(stdout.Result);
        var report = json.RootElement;
        output.WriteLine($"screenshots in {screenshots}");
        Assert.Equal("e2e-model.safetensors", report.GetProperty("model").GetString());
        Assert.Equal("cpu", report.GetProperty("device").GetString());
        Assert.Empty(report.GetProperty("foreign_requests").EnumerateArray()); // everything served locally
        Assert.Empty(report.GetProperty("console_errors").EnumerateArray());

        var digits = report.GetProperty("digits").EnumerateArray().ToList();
        Assert.Equal(2, digits.Count);
        foreach (var digit in digits)
        {
            int drawn = digit.GetProperty("drawn").GetInt32();
            var probabilities = digit.GetProperty("probabilities").EnumerateArray().Select(p => p.GetDouble()).ToArray();
            output.WriteLine($"drew {drawn} by {digit.GetProperty("input")}: page shows {digit.GetProperty("predicted")}, probabilities {string.Join(" ", probabilities.Select(p => p.ToString("0.000")))}");
            // The page saw the strokes as pointer events of the kind that drew them.
            Assert.Equal(new[] { digit.GetProperty("input").GetString() }, digit.GetProperty("pointer_types").EnumerateArray().Select(t => t.GetString()));
            Assert.Equal(drawn, digit.GetProperty("predicted").GetInt32());
            Assert.True(probabilities[drawn] > 0.5, $"the drawn {drawn} has only p = {probabilities[drawn]}");

            var tiles = digit.GetProperty("tiles").EnumerateArray().ToList();
            Assert.Equal(Tiles, tiles.Count);
            foreach (var tile in tiles)
            {
                string name = $"{tile.GetProperty("layer").GetString()} map {tile.GetProperty("map").GetInt32()}";
                Assert.True(tile.GetProperty("painted").GetInt32() == tile.GetProperty("pixels").GetInt32(), $"{name} is not fully drawn");
            }
            // Not a flat wash: every layer shows more than one grey level somewhere.
            foreach (var layer in tiles.GroupBy(t => t.GetProperty("layer").GetString()))
                Assert.True(layer.Max(t => t.GetProperty("greys").GetInt32()) > 1, $"layer {layer.Key} is one flat grey");

            string screenshot = digit.GetProperty("screenshot").GetString()!;
            Assert.True(File.Exists(screenshot), screenshot);
            Assert.Equal(0x89, File.ReadAllBytes(screenshot)[0]);
        }
        Assert.False(server.HasExited, server.Stderr);
    }
}
