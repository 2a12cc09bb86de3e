namespace LeNet.Gpu.Data;

/// <summary>
/// OpenCV's sample sheet of handwritten digits, <c>digits.png</c>: 2000×1000 grayscale, 100 columns × 50 rows
/// of 20×20 cells, each band of 5 rows one class (0 to 9, 500 digits each), white ink on black. Split as
/// OpenCV's tutorials do (left 50 columns train, right 50 test, 2,500 each, 250 per class), so accuracies
/// compare with theirs (kNN 91%, SVM on HOG ~94%). Each digit is normalised as the paper normalised MNIST:
/// its ink scaled to fit a 20×20 box and centred by its centre of mass in the 32×32 field.
/// </summary>
public static class OpenCvDigits
{
    public const string Name = "digits";
    public const string FileName = "digits.png";
    public const string DebianPackage = "opencv-doc";
    public const string DebianPath = "/usr/share/doc/opencv-doc/examples/data/digits.png";

    public const int Width = 2000, Height = 1000, Cell = 20;
    public const int Columns = Width / Cell, Rows = Height / Cell;
    public const int RowsPerClass = Rows / 10, TrainColumns = Columns / 2;
    public const int CountPerSplit = TrainColumns * Rows;


    /// <summary>The class of the digits in grid row <paramref name="row"/> (0..49).</summary>
    public static int ClassOfRow(int row) => row / RowsPerClass;

    /// <summary>Loads and slices the sheet (default: Debian's path).</summary>
    /// <exception cref="DataNotFoundException">No such file.</exception>
    /// <exception cref="DataFormatException">Not a 2000×1000 image.</exception>
    public static (Dataset Train, Dataset Test) Load(string? path = null)
    {
        path ??= DebianPath;
        return FromSheet(ImageLoader.Decode(path), path);
    }

    public static Dataset Load(DataSplit split, string? path = null)
    {
        var (train, test) = Load(path);
        return split == DataSplit.Train ? train : test;
    }

    /// <summary>Slices a decoded sheet. Each split lists its digits row by row, left to right.</summary>
    public static (Dataset Train, Dataset Test) FromSheet(GrayImage sheet, string source = FileName)
    {
        if (sheet.Width != Width || sheet.Height != Height)
            throw new DataFormatException(source,
                $"image is {sheet.Width}×{sheet.Height}; OpenCV's digits sheet is {Width}×{Height} (100×50 cells of 20×20)");

        // The shipped sheet is white on black; a sheet that is mostly bright is the inverse, so flip it to ink.
        double mean = sheet.Pixels.Average(b => (double)b);
        bool invert = mean > 127.5;
        return (Slice(sheet, 0, invert, $"{Name}/train"), Slice(sheet, TrainColumns, invert, $"{Name}/test"));
    }

    private static Dataset Slice(GrayImage sheet, int firstColumn, bool invert, string name)
    {
        var pixels = new byte[CountPerSplit * Cell * Cell];
        var labels = new int[CountPerSplit];
        int n = 0;
        for (int row = 0; row < Rows; row++)
            for (int column = firstColumn; column < firstColumn + TrainColumns; column++, n++)
            {
                labels[n] = ClassOfRow(row);
                for (int y = 0; y < Cell; y++)
                    for (int x = 0; x < Cell; x++)
                    {
                        byte v = sheet[column * Cell + x, row * Cell + y];
                        pixels[(n * Cell + y) * Cell + x] = invert ? (byte)(255 - v) : v;
                    }
            }
        // Each digit scaled into a 20×20 box and centred by its centre of mass, as the paper prepared MNIST.
        return Dataset.FromNormalizedInk(name, ClassNames.Digits, pixels, Cell, Cell, labels);
    }
}
