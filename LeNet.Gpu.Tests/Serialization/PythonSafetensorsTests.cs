using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Serialization;

/// <summary>Our files read by Hugging Face's own reader, when this machine has it.</summary>
public class PythonSafetensorsTests
{
    [SkippableFact]
    public void ModelFile_LoadsWithThePythonSafetensorsPackage()
    {
        string? python = Python.With("safetensors.numpy", "numpy");
        Skip.If(python is null, Python.Missing(["safetensors", "numpy"], "Debian 12 does not package safetensors"));

        using var dir = new TempDirectory();
        var model = LeNetModel.CreateRandom(seed: 5);
        model.Metadata["dataset"] = "fashion";
        string path = dir.File("m.safetensors");
        ModelFile.Save(model, path);

        var (code, output, errors) = Python.Run(python!, ["-c", """
            import sys
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="numpy") as f:
                print(f.metadata()["format"], f.metadata()["dataset"])
                for name in sorted(f.keys()):
                    t = f.get_tensor(name)
                    print(name, list(t.shape), str(t.dtype), repr(float(t.reshape(-1)[0])))
            """, path]);
        Assert.True(code == 0, errors);
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
