using System.Globalization;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>
/// The command line used as a hostile afternoon would use it (issue 23): output streams closed or gone, numbers
/// written with commas under several locales, weights that overflow, names full of terminal escapes, a full disk,
/// a damaged PNG, a bad LENET_DEVICE, a resumed run's provenance. Each fails on the code before its fix.
/// </summary>
public sealed class HostileUseTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private static string Seven => Path.Combine(Support.Repository.Root, "samples", "ClassifyDigit", "seven.png");

    public void Dispose() => temp.Dispose();

    /// <summary>Runs lenet through sh, so that a redirection such as <c>2&gt;&amp;-</c> or a pipe applies to it.</summary>
    private LenetProcess.Result Shell(string redirection, params string[] args) =>
        LenetProcess.RunProgram("sh", temp.Path, LenetProcess.CliEnvironment,
            ["-c", $"\"$0\" \"$@\" {redirection}", Support.Dotnet.HostPath, LenetProcess.CliPath, .. args], Limit);

    private string Tiny() => TinyIdxFolder.WriteLearnable(temp.Path, "bars", train: 200, test: 20);

    // ---- 1. Closed and failing output streams ----

    public static TheoryData<string, string> CommandsAndStreams()
    {
        var data = new TheoryData<string, string>();
        foreach (var command in new[] { "devices", "summary", "data", "predict", "eval", "train", "export", "visualize" })
            foreach (var redirection in new[] { "2>&-", ">&-", ">/dev/full" })
                data.Add(command, redirection);
        return data;
    }

    private string[] Arguments(string command, string data) => command switch
    {
        "predict" => ["predict", Seven, "missing.png", "--device", "cpu"],
        "eval" => ["eval", "--model", "lenet5-digits", "--data", data, "--device", "cpu"],
        "train" => ["train", "--data", data, "--epochs", "1", "--device", "cpu", "-o", "model.safetensors"],
        "export" => ["export", "--model", "lenet5-digits", "--onnx", "model.onnx"],
        "visualize" => ["visualize", Seven, "--model", "lenet5-digits", "--device", "cpu", "--out", "maps.png"],
        _ => [command],
    };

    [Theory]
    [MemberData(nameof(CommandsAndStreams))]
    public void A_closed_or_full_output_stream_drops_the_output_but_not_the_work(string command, string redirection)
    {
        string data = Tiny();
        var r = Shell(redirection, Arguments(command, data));
        // Never an abort (134) or a crash; the work done, lost output said by the status (1), as is predict's missing
        // file. A closed stderr that nothing was written to loses nothing (0).
        bool writesStderr = command is "train" or "predict";
        Assert.True(r.ExitCode == 1 || (redirection == "2>&-" && !writesStderr && r.ExitCode == 0),
            $"{command} {redirection}: exit {r.ExitCode}\n{r.Stderr}");
        Assert.DoesNotContain("Unhandled exception", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        if (redirection != "2>&-")
            Assert.Contains("stdout could not be written", r.Stderr);
        string[] files = command switch
        {
            "train" => ["model.safetensors", "model.safetensors.ckpt"],
            "export" => ["model.onnx"],
            "visualize" => ["maps.png"],
            _ => [],
        };
        foreach (var file in files)
            Assert.True(File.Exists(temp.File(file)), $"{command} {redirection}: no {file}\n{r.Stderr}");
        if (command == "train") Assert.Equal("1", ModelFile.Load(temp.File("model.safetensors")).Metadata["epochs"]);
    }

    [Fact]
    public void Predict_into_a_pipe_closed_early_stops_instead_of_predicting_the_whole_folder()
    {
        // 1,100 images in five chunks of 256, and an unreadable one sorted last: reached only if predict runs to the end.
        string folder = temp.File("many");
        Directory.CreateDirectory(folder);
        byte[] seven = File.ReadAllBytes(Seven);
        for (int i = 0; i < 1100; i++) File.WriteAllBytes(Path.Combine(folder, $"{i:D4}.png"), seven);
        File.WriteAllBytes(Path.Combine(folder, "zzzz.png"), [1, 2, 3]);
        var r = LenetProcess.RunProgram("bash", temp.Path, LenetProcess.CliEnvironment,
            ["-c", "\"$0\" \"$@\" | head -1 >/dev/null; echo \"exit ${PIPESTATUS[0]}\" >&2", Support.Dotnet.HostPath, LenetProcess.CliPath,
             "predict", folder, "--device", "cpu"], Limit);
        Assert.DoesNotContain("zzzz.png", r.Stderr);
        Assert.Contains("exit 141", r.Stderr);
    }

    // ---- 2. Numbers: invariant and strict, under every locale ----

    public static TheoryData<string, string, string> LocalesAndCommas()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var locale in new[] { "C", "de_DE.UTF-8", "en_US.UTF-8" })
            foreach (var (option, value) in new[] { ("--weight-decay", "0,0005"), ("--lr", "0,5"), ("--lr", "0,,5"), ("--lr", "5,"), ("--momentum", "1.000,5") })
                data.Add(locale, option, value);
        return data;
    }

    [Theory]
    [MemberData(nameof(LocalesAndCommas))]
    public void A_number_with_a_comma_is_refused_naming_the_option_and_the_value(string locale, string option, string value)
    {
        var environment = new Dictionary<string, string?>(LenetProcess.CliEnvironment) { ["LANG"] = locale, ["LC_ALL"] = locale };
        var r = LenetProcess.RunProgram(Support.Dotnet.HostPath, temp.Path, environment,
            [LenetProcess.CliPath, "train", "--data", Tiny(), "--epochs", "1", option, value, "-o", "model.safetensors"], Limit);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{option}: '{value}' is not a number", r.Stderr);
        Assert.False(File.Exists(temp.File("model.safetensors")));
    }

    [Fact]
    public void Distortion_strengths_are_each_read_strictly_and_a_valid_list_still_trains()
    {
        string data = Tiny();
        var r = LenetProcess.RunWithin(Limit, temp.Path, "train", "--data", data, "--epochs", "1", "--device", "cpu",
            "--distort", "1,0.05,0,0", "-o", "model.safetensors");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("0.05", ModelFile.Load(temp.File("model.safetensors")).Metadata["distortion"]);
        foreach (var bad in new[] { "1,0.05,0,0,", "1,0..05,0,0", "1, 0.05,0,0", "1,0.05,0,1e39" })
        {
            r = LenetProcess.RunWithin(Limit, temp.Path, "train", "--data", data, "--epochs", "1", "--distort", bad, "-o", "other.safetensors");
            Assert.True(r.ExitCode == 2, $"--distort {bad}: exit {r.ExitCode}");
            Assert.Contains($"got '{bad}'", r.Stderr);
        }
    }

    [Fact]
    public void A_parse_error_names_the_option_in_words_not_a_dotnet_type()
    {
        var r = LenetProcess.RunWithin(Limit, temp.Path, "train", "--lr", "fast", "--epochs", "many");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--lr: 'fast' is not a number", r.Stderr);
        Assert.Contains("--epochs: 'many' is not a whole number", r.Stderr);
        Assert.DoesNotContain("System.", r.Stderr);
    }

    // ---- 4. Weights that overflow ----

    private string OverflowingModel()
    {
        var model = ShippedModels.Resolve("lenet5-digits");
        var parameters = model.Parameters;
        foreach (var slice in new[] { ParameterLayout.F6Weight, ParameterLayout.OutputWeight })
            for (int i = slice.Offset; i < slice.Offset + slice.Length; i++)
                parameters[i] = i % 2 == 0 ? 3e38f : -3e38f;
        string path = temp.File("huge.safetensors");
        File.WriteAllBytes(path, ModelFile.ToBytes(model));
        return path;
    }

    [Fact]
    public void Weights_that_overflow_are_refused_at_load_by_every_command_in_one_line()
    {
        string path = OverflowingModel();
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load(path));
        Assert.StartsWith(path + ": weights too large", e.Message);
        foreach (var args in new[]
        {
            new[] { "eval", "--model", path, "--data", Tiny(), "--device", "cpu" },
            ["predict", Seven, "--model", path, "--device", "cpu"],
            ["predict", Seven, "--model", path, "--device", "cpu", "--json"],
            ["serve", "--model", path, "--device", "cpu"],
        })
        {
            var r = LenetProcess.RunWithin(Limit, temp.Path, args);
            Assert.True(r.ExitCode == 1, $"{string.Join(' ', args)}: exit {r.ExitCode}\n{r.Stdout}");
            string line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"lenet: {path}: weights too large", line);
            Assert.DoesNotContain("NaN", r.Stdout);
        }
    }

    // ---- 5. Control characters in names ----

    [Fact]
    public void Names_with_terminal_escapes_and_newlines_are_printed_escaped()
    {
        string folder = temp.File("names");
        Directory.CreateDirectory(folder);
        string hostile = "esc\u001b]0;TITLE\a\u001b[2J.png", split = "two\nlines.png", broken = "bad\u001b[31m.png";
        File.Copy(Seven, Path.Combine(folder, hostile));
        File.Copy(Seven, Path.Combine(folder, split));
        File.WriteAllBytes(Path.Combine(folder, broken), [1, 2, 3]);
        var r = LenetProcess.RunWithin(Limit, temp.Path, "predict", folder, Path.Combine(folder, "gone\u0007.png"), "--device", "cpu");
        Assert.Equal(1, r.ExitCode);
        foreach (char control in "\u001b\a")
        {
            Assert.DoesNotContain(control, r.Stdout);
            Assert.DoesNotContain(control, r.Stderr);
        }
        Assert.Contains(@"esc\e]0;TITLE\a\e[2J.png", r.Stdout);
        // A newline in a name stays inside its row: the row holds the class too.
        Assert.Contains(r.Stdout.Split('\n'), row => row.Contains(@"two\nlines.png") && row.Contains('7'));
        Assert.Contains(@"bad\e[31m.png", r.Stderr);
        Assert.Contains(@"gone\a.png", r.Stderr);
    }

    // ---- 7. The smaller items ----

    [Fact]
    public void A_name_that_is_not_utf8_is_said_to_be_so_not_missing()
    {
        var r = LenetProcess.RunProgram("bash", temp.Path, LenetProcess.CliEnvironment,
            ["-c", "cp \"$2\" \"$(printf 'bad\\377.png')\" && \"$0\" \"$1\" predict \"$(printf 'bad\\377.png')\" --device cpu",
             Support.Dotnet.HostPath, LenetProcess.CliPath, Seven], Limit);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not UTF-8", r.Stderr);
        Assert.DoesNotContain("no such file", r.Stderr);
    }

    [Fact]
    public void A_png_with_a_bad_crc_is_named_as_damaged()
    {
        byte[] png = File.ReadAllBytes(Seven);
        png[20] ^= 0x01; // inside IHDR's width/height: its CRC no longer matches
        File.WriteAllBytes(temp.File("crc.png"), png);
        var r = LenetProcess.RunWithin(Limit, temp.Path, "predict", "crc.png", "--device", "cpu");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("crc.png: PNG chunk IHDR at byte 8 has CRC", r.Stderr);
        Assert.Contains("the file is damaged", r.Stderr);
    }

    [Fact]
    public void Devices_are_listed_under_a_bad_LENET_DEVICE_which_is_named()
    {
        var environment = new Dictionary<string, string?>(LenetProcess.CliEnvironment) { ["LENET_DEVICE"] = "garbage" };
        var r = LenetProcess.RunProgram(Support.Dotnet.HostPath, temp.Path, environment, [LenetProcess.CliPath, "devices"], Limit);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("CPU engine", r.Stdout);
        Assert.Contains("LENET_DEVICE", r.Stderr);
        Assert.Contains("garbage", r.Stderr);
        // Every other command still refuses it.
        r = LenetProcess.RunProgram(Support.Dotnet.HostPath, temp.Path, environment, [LenetProcess.CliPath, "predict", Seven], Limit);
        Assert.Equal(1, r.ExitCode);
    }

    /// <summary>Whether this process may make a mount namespace with a small tmpfs (root, or a privileged container).</summary>
    private static bool CanMountTmpfs() =>
        LenetProcess.RunProgram("unshare", "/", new Dictionary<string, string?>(), ["-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
            TimeSpan.FromSeconds(20)).ExitCode == 0;

    [SkippableFact]
    public void A_full_disk_in_training_names_the_last_complete_checkpoint()
    {
        Skip.IfNot(CanMountTmpfs(), "cannot mount a small tmpfs here (needs root and a mount namespace)");
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "bars", train: 200, test: 20);
        string[] train = ["train", "--data", data, "--device", "cpu", "--batch-size", "20", "--no-progress"];
        var first = LenetProcess.RunWithin(Limit, temp.Path, [.. train, "--epochs", "1", "-o", "first.safetensors"]);
        Assert.True(first.ExitCode == 0, first.Stderr);

        // A 600 kB disk holding the 494 kB checkpoint (weights and momentum): the next checkpoint cannot be written.
        string disk = temp.File("disk");
        Directory.CreateDirectory(disk);
        var r = LenetProcess.RunProgram("unshare", temp.Path, LenetProcess.CliEnvironment,
            ["-m", "bash", "-c",
             "mount -t tmpfs -o size=600k tmpfs \"$1\" && cp first.safetensors.ckpt \"$1/model.safetensors.ckpt\" && cd \"$1\" || exit 99; " +
             "\"${@:2}\"; echo \"exit $?\" >&2; cmp -s model.safetensors.ckpt \"$OLDPWD/first.safetensors.ckpt\" && echo intact >&2; ls -a >&2",
             "full-disk", disk, Support.Dotnet.HostPath, LenetProcess.CliPath, .. train, "--epochs", "3",
             "--resume", "model.safetensors.ckpt", "-o", "model.safetensors"], Limit);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("exit 1", lines);
        string line = Assert.Single(lines, l => l.StartsWith("lenet:", StringComparison.Ordinal));
        Assert.Contains("No space left on device", line);
        Assert.Contains("The last complete checkpoint is model.safetensors.ckpt (epoch 1), intact", line);
        Assert.DoesNotMatch(@" : '.*'\.?$", line);
        Assert.Contains("intact", lines);
        Assert.DoesNotContain(lines, l => l.Contains(".tmp-", StringComparison.Ordinal));
    }

    [Fact]
    public void A_resumed_model_records_the_original_command_and_the_whole_training_time()
    {
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "bars", train: 2_000, test: 20);
        string[] train = ["train", "--data", data, "--device", "cpu", "--batch-size", "1", "--no-progress", "-o", "model.safetensors"];
        Assert.Equal(0, LenetProcess.RunWithin(Limit, temp.Path, [.. train, "--epochs", "2"]).ExitCode);
        var whole = ModelFile.Load(temp.File("model.safetensors")).Metadata;
        double firstPart = double.Parse(SafeTensors.Read(temp.File("model.safetensors.ckpt")).Metadata["training_seconds"], CultureInfo.InvariantCulture);
        Assert.True(firstPart > 0);

        var r = LenetProcess.RunWithin(Limit, temp.Path, [.. train, "--epochs", "3", "--resume", "model.safetensors.ckpt"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var resumed = ModelFile.Load(temp.File("model.safetensors")).Metadata;
        Assert.Equal(whole["command"], resumed["command"]);
        Assert.DoesNotContain("--resume", resumed["command"]);
        double secondCheckpoint = double.Parse(SafeTensors.Read(temp.File("model.safetensors.ckpt")).Metadata["training_seconds"], CultureInfo.InvariantCulture);
        Assert.True(secondCheckpoint > firstPart, $"{secondCheckpoint} s after the resume, {firstPart} s before it");
        Assert.True(int.Parse(resumed["training_seconds"], CultureInfo.InvariantCulture) >= (int)Math.Floor(secondCheckpoint));
    }
}
