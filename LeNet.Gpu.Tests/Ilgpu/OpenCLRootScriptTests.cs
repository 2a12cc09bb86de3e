using System.Diagnostics;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>
/// .ci/opencl-root.sh (the PoCL root of the OpenCL tier): where the root cannot be made it says why in one line and
/// exits 2, leaving nothing a later run would use; and .ci/run selects exactly the tests this project marks for the
/// tier. Nothing is downloaded here: the root is asked for in an empty tools folder with apt sources that name no
/// mirror (LENET_APT_ETC), so it fails before debootstrap.
/// </summary>
public sealed class OpenCLRootScriptTests : IDisposable
{
    private readonly Data.TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private (int ExitCode, string Output, string Error) Script(params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Repository.Root, ".ci", "opencl-root.sh"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["LENET_TOOLS"] = temp.File("tools");
        Directory.CreateDirectory(temp.File("apt"));
        start.Environment["LENET_APT_ETC"] = temp.File("apt");
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEndAsync().GetAwaiter().GetResult();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Trim(), error.Trim());
    }

    [Theory]
    [InlineData("ensure")]
    [InlineData("run", "true")]
    [InlineData("describe")]
    public void A_root_that_cannot_be_made_is_one_line_and_exit_2(params string[] args)
    {
        var (exitCode, output, error) = Script(args);
        Assert.Equal(2, exitCode);
        Assert.Equal("", output);
        Assert.Single(error.Split('\n'));
        Assert.StartsWith("opencl-root: ", error);
        // As root the missing mirror is the reason; otherwise the missing privilege.
        Assert.Matches("name no Debian mirror|needs root", error);
        // Nothing was left that a later run could take for a root.
        var tools = temp.File("tools");
        Assert.False(Directory.Exists(Path.Combine(tools, "opencl-root")));
        Assert.Empty(Directory.Exists(tools) ? Directory.GetDirectories(tools) : []);
    }

    [Fact]
    public void A_root_without_the_scripts_stamp_is_not_used()
    {
        // A folder where the root belongs, half made (no stamp): ensure tries to make it again rather than using it.
        Directory.CreateDirectory(Path.Combine(temp.File("tools"), "opencl-root", "usr", "bin"));
        var (exitCode, _, error) = Script("run", "true");
        Assert.Equal(2, exitCode);
        Assert.Matches("name no Debian mirror|needs root", error);
    }

    [Fact]
    public void Ci_runs_the_tests_marked_for_the_tier()
    {
        string run = File.ReadAllText(Path.Combine(Repository.Root, ".ci", "run"));
        Assert.Contains($"OPENCL_FILTER='{OpenCLTier.Filter}'", run);
        Assert.Contains("opencl-root.sh run dotnet test \"$TEST_ASSEMBLY\" --filter \"$OPENCL_FILTER\"", run);
    }
}
