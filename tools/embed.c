/* embed.c — build helper: turns a text file into a NUL-terminated C array so
 * that conf/ferryd.json ships inside ferryd. */
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: embed NAME INPUT OUTPUT\n");
		return 1;
	}
	FILE *in = fopen(argv[2], "rb");
	FILE *out = fopen(argv[3], "w");
	if (!in || !out) {
		perror("embed");
		return 1;
	}
	fprintf(out, "/* generated from %s */\nconst char %s[] = {", argv[2], argv[1]);
	int c;
	unsigned long n = 0;
	while ((c = fgetc(in)) != EOF)
		fprintf(out, "%s0x%02x,", (n++ % 12) ? " " : "\n\t", (unsigned)c);
	fprintf(out, "\n\t0x00\n};\n");
	return (fclose(out) || ferror(in)) ? 1 : 0;
}
