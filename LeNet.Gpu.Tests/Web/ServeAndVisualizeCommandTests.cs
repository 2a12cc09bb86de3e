using System.Net;
using System.Net.Sockets;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Cli;
using LeNet.Gpu.Tests.Data;
using SkiaSharp;
using Xunit;

namespace LeNet.Gpu.Tests.Web;

/// <summary><c>lenet visualize</c> and <c>lenet serve</c>'s start and stop, as separate processes.</summary>
public sealed class ServeAndVisualizeCommandTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly string model;

    public ServeAndVisualizeCommandTests()
    {
        model = temp.File("random.safetensors");
        ModelFile.Save(LeNetModel.CreateRandom(seed: 9), model);
    }

    public void Dispose() => temp.Dispose();

    private static void AssertOneLineError(LenetProcess.Result r, int exitCode, string contains)
    {
        Assert.True(r.ExitCode == exitCode, $"exit {r.ExitCode}, expected {exitCode}: {r.Stderr}");
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("lenet: "), $"expected a one-line error, got:\n{r.Stderr}");
        Assert.Contains(contains, r.Stderr);
    }

    [Fact]
    public void Visualize_writes_a_png_of_every_layer()
    {
        File.WriteAllBytes(temp.File("zero.png"), TestImages.Zero());
        var r = LenetProcess.Run(temp.Path, "visualize", "zero.png", "--out", "maps.png", "--model", model, "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("maps.png", r.Stdout);
        Assert.Contains("predicted", r.Stdout);

        using var picture = SKBitmap.Decode(temp.File("maps.png"));
        Assert.NotNull(picture);
        Assert.Equal(1040, picture.Width);
        Assert.InRange(picture.Height, 800, 2000);
        // Blue (negative) and red (positive) values of the colour scale both appear, and so does black text.
        var colours = new HashSet<SKColor>();
        for (int y = 0; y < picture.Height; y += 2)
            for (int x = 0; x < picture.Width; x += 2)
                colours.Add(picture.GetPixel(x, y));
        Assert.Contains(colours, c => c.Blue > 200 && c.Red < 120);
        Assert.Contains(colours, c => c.Red > 200 && c.Blue < 120);
        Assert.Contains(colours, c => c.Red < 40 && c.Green < 40 && c.Blue < 40);
        // Written atomically: no temporary file is left beside it.
        Assert.Equal(new[] { "maps.png", "random.safetensors", "zero.png" }, Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Visualize_fails_in_one_line()
    {
        File.WriteAllText(temp.File("notes.png"), "not a picture");
        AssertOneLineError(LenetProcess.Run(temp.Path, "visualize", "notes.png", "--out", "maps.png", "--model", model, "--device", "cpu"), 1, "notes.png");
        AssertOneLineError(LenetProcess.Run(temp.Path, "visualize", "missing.png", "--out", "maps.png", "--model", model, "--device", "cpu"), 1, "missing.png");
        File.WriteAllBytes(temp.File("zero.png"), TestImages.Zero());
        AssertOneLineError(LenetProcess.Run(temp.Path, "visualize", "zero.png", "--out", "no/such/dir/maps.png", "--model", model, "--device", "cpu"), 1, "does not exist");
        var usage = LenetProcess.Run(temp.Path, "visualize", "zero.png");
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("--out", usage.Stderr);
        Assert.False(File.Exists(temp.File("maps.png")));
    }

    [Fact]
    public void Serve_refuses_bad_ports_and_models_in_one_line()
    {
        AssertOneLineError(LenetProcess.Run(temp.Path, "serve", "--port", "70000", "--model", model), 2, "--port");
        AssertOneLineError(LenetProcess.Run(temp.Path, "serve", "--model", "missing.safetensors"), 1, "missing.safetensors");

        // A port that is taken is an error naming the address, not a stack trace.
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var busy = LenetProcess.Run(temp.Path, "serve", "--port", port.ToString(), "--model", model, "--device", "cpu");
        AssertOneLineError(busy, 1, port.ToString());
        Assert.DoesNotContain("   at ", busy.Stdout); // the host's own log of the failure (a stack trace) is not printed either
    }

    [Fact]
    public async Task Serve_answers_on_the_printed_url_and_stops_cleanly_on_sigterm()
    {
        using var server = new ServeProcess(model);
        Assert.Equal(IPAddress.Loopback.ToString(), server.BaseAddress.Host);
        using (var client = new HttpClient { BaseAddress = server.BaseAddress })
            Assert.Contains("random.safetensors", await client.GetStringAsync("api/info"));
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
    }
}
