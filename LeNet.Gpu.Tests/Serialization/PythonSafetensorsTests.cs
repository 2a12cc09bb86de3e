using System.Diagnostics;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Serialization;

/// <summary>Our files read by Hugging Face's own reader, when this machine has it.</summary>
public class PythonSafetensorsTests
{
    private static (int ExitCode, string Output) Python(string script, string? argument = null)
    {
        try
        {
            var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(script);
            if (argument is not null) start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            return (process.ExitCode, output.Result + errors.Result);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (-1, "python3 not found");
        }
    }

    [SkippableFact]
    public void ModelFile_LoadsWithThePythonSafetensorsPackage()
    {
        var probe = Python("import safetensors.numpy, numpy");
        Skip.If(probe.ExitCode != 0, "python3 with the safetensors and numpy packages is not available here");

        using var dir = new TempDirectory();
        var model = LeNetModel.CreateRandom(seed: 5);
        model.Metadata["dataset"] = "fashion";
        string path = dir.File("m.safetensors");
        ModelFile.Save(model, path);

        var (code, output) = Python("""
            import sys
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="numpy") as f:
                print(f.metadata()["format"], f.metadata()["dataset"])
                for name in sorted(f.keys()):
                    t = f.get_tensor(name)
                    print(name, list(t.shape), str(t.dtype), repr(float(t.reshape(-1)[0])))
            """, path);
        Assert.True(code == 0, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("lenet-gpu fashion", lines[0]);
        foreach (var slice in ParameterLayout.Slices)
        {
            string shape = "[" + string.Join(", ", slice.Shape) + "]";
            string line = Assert.Single(lines, l => l.StartsWith(slice.Name + " "));
            Assert.StartsWith($"{slice.Name} {shape} float32 ", line);
            Assert.Equal(model.Tensor(slice)[0], float.Parse(line.Split(' ').Last()));
        }
    }
}
