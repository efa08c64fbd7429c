/* placeholder until the command's dispatcher lands */
int main(void) { return 2; }
