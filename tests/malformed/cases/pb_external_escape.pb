Bimagej
location../../etc/passwdp