using System.Text;
using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Cli;

/// <summary>
/// Checks a command's output files before any work starts, so a long training run cannot end by overwriting its
/// own data or model, or by failing to write: each output must be a non-empty path, not a directory, distinct from
/// every other output and from every file the command reads (compared after resolving symbolic links anywhere in
/// either path), not a device, FIFO or socket, with a name the file system takes, in a directory that exists and
/// can be written. A link is written through (<see cref="AtomicFile"/>), so the checks apply to the file it names.
/// Clashes and special files exit 2; a path that cannot be written (a directory, a name too long, a missing or
/// read-only directory) exits 1, as the failed write would.
/// </summary>
public sealed class OutputPaths
{
    private readonly List<(string Option, string Path)> inputs = [];
    private readonly List<(string Option, string Given, string Path, string? MayReplace)> outputs = [];

    /// <summary>An input file; null, or a name that is not a file (a shipped model's name, a folder): nothing.</summary>
    public OutputPaths Input(string option, string? path)
    {
        if (!string.IsNullOrEmpty(path) && File.Exists(path)) inputs.Add((option, RealPath(path)));
        return this;
    }

    /// <summary>
    /// A dataset: a file (OpenCV's digits.png) or a folder in MNIST's layout, of which only the four IDX files the
    /// loader reads are inputs (other files there, such as a model written beside the data, are not).
    /// </summary>
    public OutputPaths Dataset(string option, string? path)
    {
        if (string.IsNullOrEmpty(path)) return this;
        if (!Directory.Exists(path)) return Input(option, path);
        foreach (var split in new[] { DataSplit.Train, DataSplit.Test })
            foreach (bool labels in new[] { false, true })
                Input(option, IdxDirectory.FindFile(path, split, labels));
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
        outputs.Add((option, path, RealPath(path), mayReplace));
        return this;
    }

    /// <summary>Throws <see cref="UsageException"/> or <see cref="IOException"/> with one line naming the option and path.</summary>
    public void Check()
    {
        for (int i = 0; i < outputs.Count; i++)
        {
            var (option, given, real, mayReplace) = outputs[i];
            if (Directory.Exists(given)) throw new IOException($"cannot write {option} {given}: it is a directory");
            var kind = FileKinds.Of(given);
            if (FileKinds.IsSpecial(kind))
                throw new UsageException($"{option} {given} is {FileKinds.Describe(kind)}, not a regular file: give the path of a file to write");
            CheckLength(option, given, AtomicFile.Target(given));
            for (int j = 0; j < i; j++)
                if (outputs[j].Path == real)
                    throw new UsageException($"{option} {given} is also the {outputs[j].Option} file; give each output its own path");
            foreach (var (inputOption, inputPath) in inputs)
                if (inputPath == real && inputOption != mayReplace)
                    throw new UsageException($"{option} {given} would overwrite an input ({inputOption}); choose another path");
        }
        // The file is written beside the file it replaces (a temporary file, then a rename; through a symbolic link,
        // beside the link's target), so that is the directory that must be writable.
        foreach (var group in outputs.GroupBy(o => Path.GetDirectoryName(AtomicFile.Target(o.Given))!))
            Probe(group.First().Option, group.First().Given, group.Key);
    }

    /// <summary>
    /// The name must fit the file system before any work, not fail the write at the end; the names derived from it
    /// (temporary file, lock) are kept within the limit by <see cref="AtomicFile.SiblingPath"/>.
    /// </summary>
    private static void CheckLength(string option, string given, string target)
    {
        foreach (string path in new[] { Path.GetFullPath(given), target }.Distinct())
        {
            int nameBytes = Encoding.UTF8.GetByteCount(Path.GetFileName(path));
            if (nameBytes > AtomicFile.MaxNameBytes)
                throw new IOException($"cannot write {option} {given}: its file name is {nameBytes} bytes, more than the {AtomicFile.MaxNameBytes} a file name may have");
            int pathBytes = Encoding.UTF8.GetByteCount(path);
            if (pathBytes > AtomicFile.MaxPathBytes)
                throw new IOException($"cannot write {option} {given}: the full path is {pathBytes} bytes, more than the {AtomicFile.MaxPathBytes} a path may have");
        }
    }

    /// <summary>Creates and deletes a file where the output will go: the write needs exactly that.</summary>
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
            throw new IOException($"cannot write {option} {given}: no new file can be made in {directory}");
        }
    }

    /// <summary>
    /// The absolute path with every symbolic link resolved, each directory on the way and the file itself (where
    /// they exist), like POSIX realpath; what does not exist yet is kept as written.
    /// </summary>
    private static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full)!;
        string current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            try
            {
                FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
                if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                    current = RealPath(target.FullName); // the target's own directories may be links too
            }
            catch (IOException)
            {
                // A broken or looping link: compare as written; the write itself will say what is wrong.
            }
        }
        return current;
    }
}
