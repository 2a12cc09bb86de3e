namespace LeNet.Gpu.Cli;

/// <summary>
/// Checks a command's output files before any work starts, so a long training run cannot end by overwriting its
/// own data or model, or by failing to write: each output must be a non-empty path, not a directory, distinct from
/// every other output and from every input file (through symbolic links too), in a directory that exists and can
/// be written. Clashes exit 2; a path that cannot be written (a directory, a missing or read-only directory) exits 1,
/// as the failed write would.
/// </summary>
public sealed class OutputPaths
{
    private readonly List<(string Option, string Path)> inputs = [];
    private readonly List<(string Option, string Given, string Path, string? MayReplace)> outputs = [];

    /// <summary>An input file, or a directory whose files are all inputs; null or a shipped model's name: nothing.</summary>
    public OutputPaths Input(string option, string? path)
    {
        if (string.IsNullOrEmpty(path)) return this;
        string full = Resolve(path);
        if (Directory.Exists(full))
        {
            foreach (var file in Directory.EnumerateFiles(full)) inputs.Add((option, Resolve(file)));
        }
        else if (File.Exists(full))
        {
            inputs.Add((option, full));
        }
        return this;
    }

    /// <summary>
    /// An output file; null: the option was not given. <paramref name="mayReplace"/>: the one input option whose
    /// file this output may replace (train's checkpoint and --resume: the checkpoint is read whole before any write).
    /// </summary>
    public OutputPaths Output(string option, string? path, string? mayReplace = null)
    {
        if (path is null) return this;
        if (path.Length == 0) throw new UsageException($"{option}: the path is empty");
        outputs.Add((option, path, Resolve(path), mayReplace));
        return this;
    }

    /// <summary>Throws <see cref="UsageException"/> or <see cref="IOException"/> with one line naming the option and path.</summary>
    public void Check()
    {
        for (int i = 0; i < outputs.Count; i++)
        {
            var (option, given, full, mayReplace) = outputs[i];
            if (Directory.Exists(full)) throw new IOException($"cannot write {option} {given}: it is a directory");
            for (int j = 0; j < i; j++)
                if (outputs[j].Path == full)
                    throw new UsageException($"{option} {given} is also the {outputs[j].Option} file; give each output its own path");
            foreach (var (inputOption, inputPath) in inputs)
                if (inputPath == full && inputOption != mayReplace)
                    throw new UsageException($"{option} {given} would overwrite an input ({inputOption}); choose another path");
        }
        foreach (var directory in outputs.Select(o => (o.Option, o.Given, Directory: Path.GetDirectoryName(o.Path)!)).DistinctBy(o => o.Directory))
            Probe(directory.Option, directory.Given, directory.Directory);
    }

    /// <summary>Creates and deletes a file where the output will go: the write (a temporary file, then a rename) needs exactly that.</summary>
    private static void Probe(string option, string given, string directory)
    {
        if (!Directory.Exists(directory))
            throw new IOException($"cannot write {option} {given}: directory {directory} does not exist");
        string probe = Path.Combine(directory, $".lenet-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {option} {given}: {e.Message}");
        }
    }

    /// <summary>The absolute path, through symbolic links where the file (or its directory) exists.</summary>
    private static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            if (new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target) return target.FullName;
            string? directory = Path.GetDirectoryName(full);
            if (directory is not null && new DirectoryInfo(directory).ResolveLinkTarget(returnFinalTarget: true) is { } resolved)
                return Path.Combine(resolved.FullName, Path.GetFileName(full));
        }
        catch (IOException)
        {
            // A broken link or an unreadable path: compare as given; writing will say what is wrong.
        }
        return full;
    }
}
